"""One rank of a distributed test: `mpiexec -n K python worker.py SCENARIO OUT_DIR`.

Each scenario trains on this rank's shard of a fixed data set and writes what
the test compares (weights, their hash, fitted attributes, errors met) to
OUT_DIR/rank<r>.npz and a line 'rank r: ...' to stdout.
"""

import hashlib
import json
import os
import sys
import time
import warnings

import numpy as np
from mpi4py import MPI

import fastmlp

COMM = MPI.COMM_WORLD
RANK, SIZE = COMM.Get_rank(), COMM.Get_size()


def data(n=150, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8).astype(int)
    return X, np.minimum(y, classes - 1)


def uneven_shard(n):
    """Rank r's rows: uneven on purpose (rank 0 has the most)."""
    edges = np.round(np.cumsum([0] + [SIZE - r + 1 for r in range(SIZE)]) /
                     sum(SIZE - r + 1 for r in range(SIZE)) * n).astype(int)
    return slice(edges[RANK], edges[RANK + 1])


def digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def report(out_dir, **values):
    np.savez(os.path.join(out_dir, f"rank{RANK}.npz"), **{k: np.asarray(v) for k, v in values.items()})
    print(f"rank {RANK}: " + json.dumps({k: (v if isinstance(v, (int, float, str)) else digest(np.asarray(v)))
                                         for k, v in values.items()}), flush=True)


def full_batch_float64(out_dir):
    X, y = data()
    part = uneven_shard(len(X))
    model = fastmlp.MLP([6, 8, 3], "tanh", "softmax", dtype="float64", normalize="zscore", seed=3)
    model.fit(X[part], y[part], epochs=5, batch_size=None, optimizer="adam", learning_rate=0.05,
              l2=0.01, shuffle=True, comm=COMM)
    weights = 1.0 + np.arange(len(X))[part] % 3
    weighted = fastmlp.MLP([6, 5, 1], "sigmoid", "identity", dtype="float64", seed=4)
    weighted.fit(X[part], X[part, :1] - X[part, 1:2], epochs=4, batch_size=None, learning_rate=0.1,
                 sample_weight=weights, comm=COMM)
    regressor = fastmlp.MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", batch_size=150,
                                     max_iter=4, alpha=0.01, random_state=0)
    regressor.fit(X[part], X[part, 0] + X[part, 1], sample_weight=weights, comm=COMM)
    report(out_dir, params=model.params, loss=np.array(model.history["loss"]),
           offset=model.normalizer.offset_, scale=model.normalizer.scale_,
           weighted_params=weighted.params, regressor_params=regressor._model.params,
           regressor_loss=np.array(regressor.loss_curve_))


def replicas(out_dir):
    """Mini-batches, shuffled, uneven shards: every estimator's replicas stay the same bits."""
    X, y = data(n=203)
    part = uneven_shard(len(X))
    Xl, yl = X[part], y[part]
    threads_during = []
    models = {
        "mlp": fastmlp.MLP([6, 16, 3], "relu", "softmax", seed=1).fit(
            Xl, yl, epochs=4, batch_size=16, optimizer="adam", learning_rate=0.01, comm=COMM,
            callbacks=[lambda model, metrics: threads_during.append(fastmlp.get_num_threads())]),
        "classifier": fastmlp.MLPClassifier((12,), solver="adam", batch_size=8, max_iter=5,
                                            random_state=RANK).fit(Xl, yl, comm=COMM),
        "early": fastmlp.MLPClassifier((12,), solver="sgd", batch_size=8, max_iter=8,
                                       early_stopping=True, validation_fraction=0.2,
                                       n_iter_no_change=3, random_state=0).fit(Xl, yl, comm=COMM),
        "regressor": fastmlp.MLPRegressor(hidden_layer_sizes=(10,), solver="sgd", batch_size=10, max_iter=5,
                                          learning_rate="invscaling", random_state=0).fit(
            Xl, Xl[:, 0] - Xl[:, 1], comm=COMM),
        "logistic": fastmlp.LogisticRegression(max_iter=50).fit(Xl, yl, comm=COMM),
        "perceptron": fastmlp.Perceptron(max_iter=5, random_state=0).fit(Xl, yl, comm=COMM),
        "dropout": fastmlp.MLP([6, 16, 3], "relu", "softmax", seed=1, dropout=0.3).fit(
            Xl, yl, epochs=3, batch_size=16, comm=COMM),
        # float64 rows, a float32 network (with bfloat16 products where the CPU has them)
        "pinned": fastmlp.MLPClassifier(
            (12,), batch_size=8, max_iter=3, random_state=0,
            precision="bfloat16" if fastmlp._core.bf16_unavailable() is None else "float32",
        ).fit(Xl, yl, comm=COMM),
    }
    partial = fastmlp.MLPClassifier((8,), batch_size=8, random_state=0)
    for _ in range(3):
        partial.partial_fit(Xl, yl, classes=[0, 1, 2], comm=COMM)
    models["partial"] = partial
    values = {}
    for name, model in models.items():
        inner = model if isinstance(model, fastmlp.MLP) else model._model
        values[f"{name}_params"] = inner.params
    values["early_scores"] = np.array(models["early"].validation_scores_)
    values["early_n_iter"] = models["early"].n_iter_
    values["classifier_loss_curve"] = np.array(models["classifier"].loss_curve_)
    values["regressor_t"] = models["regressor"].t_
    values["threads_after"] = fastmlp.get_num_threads()
    values["threads_during"] = threads_during[0]
    values["mlp_samples"] = models["mlp"].history.params["samples"]
    report(out_dir, **values)


def class_union(out_dir):
    """Rank 1 has no row of class 2; every rank ends with classes [0, 1, 2]."""
    X, y = data(n=120)
    part = uneven_shard(len(X))
    Xl, yl = X[part], y[part]
    if RANK == 1:
        keep = yl != 2
        Xl, yl = Xl[keep], yl[keep]
    clf = fastmlp.MLPClassifier((8,), max_iter=3, random_state=0).fit(Xl, yl, comm=COMM)
    report(out_dir, classes=clf.classes_, params=clf._model.params)


def lbfgs(out_dir):
    X, y = data(n=180)
    part = uneven_shard(len(X))
    clf = fastmlp.LogisticRegression(C=0.5, max_iter=200, tol=1e-8).fit(X[part], y[part], comm=COMM)
    reg = fastmlp.MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=5, random_state=0).fit(
        X[part], X[part, 0] * X[part, 1], comm=COMM)
    report(out_dir, coef=clf.coef_, intercept=clf.intercept_, n_iter=clf.n_iter_,
           reg_params=reg._model.params, reg_loss=reg.loss_)


def bad_input(out_dir):
    """Rank 1's rows hold a NaN: every rank raises, then a good fit works."""
    X, y = data(n=60)
    part = uneven_shard(len(X))
    Xl = X[part].copy()
    if RANK == 1:
        Xl[0, 0] = np.nan
    clf = fastmlp.MLPClassifier((4,), max_iter=2, random_state=0)
    try:
        clf.fit(Xl, y[part], comm=COMM)
        error = "none"
    except Exception as caught:
        error = f"{type(caught).__name__}: {caught}"
    clf.fit(X[part], y[part], comm=COMM)  # the communicator is still usable
    report(out_dir, error=error, params=clf._model.params)


def bad_parameter(out_dir):
    """Rank 1 alone asks for max_iter=-1 (scikit-learn's parameter check) and
    epochs=0 (MLP.fit's): every rank raises, then a good fit works."""
    X, y = data(n=60)
    part = uneven_shard(len(X))
    errors = []
    try:
        fastmlp.MLPClassifier((4,), max_iter=-1 if RANK == 1 else 2).fit(X[part], y[part], comm=COMM)
    except Exception as caught:
        errors.append(f"{type(caught).__name__}: {caught}")
    try:
        fastmlp.MLP([6, 3]).fit(X[part], y[part], epochs=0 if RANK == 1 else 2, comm=COMM)
    except Exception as caught:
        errors.append(f"{type(caught).__name__}: {caught}")
    clf = fastmlp.MLPClassifier((4,), max_iter=2, random_state=0).fit(X[part], y[part], comm=COMM)
    report(out_dir, errors=" | ".join(errors), params=clf._model.params)


def failing_callback(out_dir):
    """Rank 1's callback raises at epoch 3; rank 0 must raise within seconds, not wait."""
    X, y = data(n=4000)
    part = uneven_shard(len(X))

    def fail_on_rank_one(model, metrics):
        if RANK == 1 and metrics["epoch"] == 3:
            raise RuntimeError("the callback on rank 1 broke")

    model = fastmlp.MLP([6, 32, 3], "relu", "softmax", seed=0)
    started = time.perf_counter()
    try:
        model.fit(X[part], y[part], epochs=200, batch_size=4, callbacks=[fail_on_rank_one],
                  comm=COMM)
        print(f"rank {RANK}: finished without an error", flush=True)
    except Exception as caught:
        print(f"rank {RANK}: raised after {time.perf_counter() - started:.1f} s: "
              f"{type(caught).__name__}: {caught}", flush=True)
        raise


def save_on_rank_zero(out_dir):
    X, y = data(n=60)
    part = uneven_shard(len(X))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = fastmlp.MLPClassifier((4,), max_iter=2, random_state=0).fit(X[part], y[part],
                                                                          comm=COMM)
    path = os.path.join(out_dir, f"model-from-rank{RANK}.fastmlp")
    fastmlp.save(clf, path)
    # max_iter=2 ends before convergence: rank 0 alone says so
    report(out_dir, wrote=int(os.path.exists(path)),
           warned=int(any("Maximum iterations" in str(w.message) for w in caught)))


def interrupt(out_dir):
    """The test sends SIGINT to rank 1 only; every rank stops at the same step."""
    X, y = data(n=20000)
    part = uneven_shard(len(X))
    with open(os.path.join(out_dir, f"pid{RANK}"), "w") as f:
        f.write(str(os.getpid()))
    model = fastmlp.MLP([6, 64, 64, 3], "relu", "softmax", seed=0)
    try:
        model.fit(X[part], y[part], epochs=100000, batch_size=2, comm=COMM)
        stopped = "not interrupted"
    except KeyboardInterrupt as caught:
        stopped = f"{type(caught).__name__}: {caught}"
    clf = fastmlp.MLPClassifier((64, 64), batch_size=2, max_iter=100000, random_state=0)
    if RANK == 0:
        with open(os.path.join(out_dir, "second"), "w") as f:
            f.write("estimator")
    # The estimators end an interrupted fit quietly, with a warning, as scikit-learn does.
    clf.fit(X[part], y[part], comm=COMM)
    report(out_dir, stopped=stopped, params=model.params, epochs=len(model.history["loss"]),
           clf_params=clf._model.params, clf_n_iter=clf.n_iter_)


def sparse_rows(out_dir):
    # Each rank's shard of one CSR matrix, kept sparse into the native core.
    import scipy.sparse
    X = scipy.sparse.random(150, 40, density=0.1, format="csr", dtype=np.float64,
                            random_state=np.random.default_rng(5))
    _, y = data()
    part = uneven_shard(150)
    model = fastmlp.MLP([40, 7, 3], "tanh", "softmax", dtype="float64", seed=3)
    model.fit(X[part], y[part], epochs=4, batch_size=None, optimizer="adam", learning_rate=0.05,
              l2=0.01, comm=COMM)
    report(out_dir, params=model.params)


if __name__ == "__main__":
    scenario, out_dir = sys.argv[1], sys.argv[2]
    globals()[scenario](out_dir)
