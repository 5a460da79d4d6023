"""Pinned trained weights: same seed and data give the same bits, release after release.

Each case trains a model or estimator on small seeded data and compares every
parameter bit for bit with `tests/data/pinned_weights.npz`, on 1 and on 2
threads (results never depend on the thread count). The file was written by
this module's `__main__` before the training engine was restructured, so a
refactoring that changes any arithmetic, order of batches or stopping
decision fails here.

The bits are those of one build: where another instruction set (AVX2 rather
than AVX-512) or compiler (Clang rather than GCC, which contract a * b + c
into FMAs in different places) rounds a case differently, the file holds
that build's pins too, as `name@isa` (recorded on a machine whose best
instruction set that is), and a case must equal one of its pins bit for bit.

Regenerate only for a deliberate change of the numbers, and say so in the
commit: `python tests/test_pinned_weights.py` (it writes the active
instruction set's pins, and plain names only where a case has none yet).
"""

import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastmlp

PINNED = Path(__file__).parent / "data" / "pinned_weights.npz"


def _data():
    rng = np.random.default_rng(1234)
    X = rng.normal(size=(150, 6))
    labels = (X[:, 0] + 0.5 * X[:, 1] ** 2 - X[:, 2] > 0.3).astype(int) + (X[:, 3] > 0.8)
    target = X @ rng.normal(size=6) + 0.1 * rng.normal(size=150)
    return X, labels, target


def _mlp(batch_size, optimizer, validate=False, **fit):
    def run(X, labels, target):
        model = fastmlp.MLP([6, 9, 7, 3], activation="tanh", output="softmax",
                            normalize="zscore", seed=5)
        if validate:
            fit["validation_data"] = (X[:40], labels[:40])
            fit["callbacks"] = [fastmlp.EarlyStopping("val_score", patience=1)]
        model.fit(X, labels, epochs=4, batch_size=batch_size, optimizer=optimizer,
                  learning_rate=0.05, **fit)
        return model.params
    return run


def _estimator(make, target="labels", eval_rows=0):
    # float32 rows: the estimators train in their input's dtype, and these
    # weights were pinned from float32 training.
    def run(X, labels, target_values):
        X = X.astype(np.float32)
        est = make()
        y = labels if target == "labels" else target_values
        if eval_rows:
            est.fit(X[eval_rows:], y[eval_rows:], eval_set=(X[:eval_rows], y[:eval_rows]))
        else:
            est.fit(X, y)
        return np.concatenate([np.ravel(a) for a in (*est.coefs_, *est.intercepts_)]) \
            if hasattr(est, "coefs_") else np.concatenate([est.coef_.ravel(), est.intercept_]
                                                          ).astype(np.float64)
    return run


def _partial_fits(make, rounds=3):
    def run(X, labels, target):
        X = X.astype(np.float32)
        est = make()
        for r in range(rounds):
            est.partial_fit(X[r::rounds], labels[r::rounds], classes=np.unique(labels))
        return np.concatenate([np.ravel(a) for a in (*est.coefs_, *est.intercepts_)])
    return run


def _wide_mlp(batch_size, optimizer):
    """Wide enough for the packed SIMD GEMM and the fused batch-1 kernels' vector loops."""
    def run(X, labels, target):
        rng = np.random.default_rng(99)
        Xw = rng.normal(size=(300, 70)).astype(np.float32)
        yw = (Xw[:, :10].sum(axis=1) > 0).astype(int) + (Xw[:, 10] > 0.5)
        model = fastmlp.MLP([70, 96, 40, 3], activation="relu", output="softmax", seed=8)
        model.fit(Xw, yw, epochs=3, batch_size=batch_size, optimizer=optimizer,
                  learning_rate=0.01)
        return model.params
    return run


CASES = {
    "wide_mlp_batch1_momentum": _wide_mlp(1, "momentum"),
    "wide_mlp_batch64_adam": _wide_mlp(64, "adam"),
    "mlp_sgd_batch1": _mlp(1, "sgd"),
    "mlp_momentum_batch16": _mlp(16, "momentum", l2=0.01),
    "mlp_nesterov_full": _mlp(None, "nesterov"),
    "mlp_adam_batch32_val": _mlp(32, "adam", validate=True, train_metrics=True),
    "mlp_adam_progress": _mlp(8, "adam", verbose=False, progress="always"),
    "clf_adam": _estimator(lambda: fastmlp.MLPClassifier((8,), max_iter=15, random_state=0)),
    "clf_sgd_invscaling_early": _estimator(lambda: fastmlp.MLPClassifier(
        (8, 5), solver="sgd", learning_rate="invscaling", learning_rate_init=0.1,
        early_stopping=True, max_iter=25, random_state=1)),
    "clf_sgd_adaptive": _estimator(lambda: fastmlp.MLPClassifier(
        (7,), solver="sgd", learning_rate="adaptive", max_iter=40, n_iter_no_change=2,
        tol=1e-2, random_state=2)),
    "clf_lbfgs": _estimator(lambda: fastmlp.MLPClassifier((6,), solver="lbfgs", max_iter=30,
                                                           random_state=3)),
    "clf_partial_fit": _partial_fits(lambda: fastmlp.MLPClassifier((8,), random_state=4)),
    "reg_sgd": _estimator(lambda: fastmlp.MLPRegressor(hidden_layer_sizes=(10,), solver="sgd", max_iter=20,
                                                        learning_rate_init=0.01,
                                                        random_state=0), target="target"),
    "reg_lbfgs": _estimator(lambda: fastmlp.MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=25,
                                                          random_state=1), target="target"),
    "reg_adam_eval_set": _estimator(
        lambda: fastmlp.MLPRegressor(hidden_layer_sizes=(6,), max_iter=10, random_state=2), target="target",
        eval_rows=30),
    "logreg_lbfgs": _estimator(lambda: fastmlp.LogisticRegression(C=0.5)),
    "logreg_lbfgs_no_intercept": _estimator(lambda: fastmlp.LogisticRegression(
        fit_intercept=False)),
    "logreg_sgd_no_intercept": _estimator(lambda: fastmlp.LogisticRegression(
        solver="sgd", fit_intercept=False, max_iter=12, batch_size=16, random_state=0)),
    "logreg_adam": _estimator(lambda: fastmlp.LogisticRegression(
        solver="adam", max_iter=12, batch_size=32, random_state=1)),
    "perceptron": _estimator(lambda: fastmlp.Perceptron(max_iter=20, random_state=0)),
    "perceptron_no_intercept_l2": _estimator(lambda: fastmlp.Perceptron(
        fit_intercept=False, penalty="l2", alpha=0.01, max_iter=10, random_state=1)),
    "perceptron_early_stopping": _estimator(lambda: fastmlp.Perceptron(
        early_stopping=True, max_iter=30, random_state=2)),
}


def _train(name):
    X, labels, target = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return np.array(CASES[name](X, labels, target), copy=True)


@pytest.fixture(scope="module")
def pinned():
    with np.load(PINNED) as data:
        return {name: data[name] for name in data.files}


def test_every_case_is_pinned(pinned):
    assert sorted(k for k in pinned if "@" not in k) == sorted(CASES)
    assert {k.split("@")[0] for k in pinned} <= set(CASES)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("name", sorted(CASES))
def test_trained_weights_are_bit_identical(name, threads, pinned):
    previous = fastmlp.get_num_threads()
    fastmlp.set_num_threads(threads)
    try:
        got = _train(name)
    finally:
        fastmlp.set_num_threads(previous)
    # The case's pins: its first recording, and any other build's (name@isa).
    wants = [pinned[name]] + [v for k, v in pinned.items() if k.startswith(f"{name}@")]
    want = pinned.get(f"{name}@{fastmlp._core.active_isa()}", pinned[name])
    assert got.dtype == want.dtype and got.shape == want.shape
    assert any(got.tobytes() == w.tobytes() for w in wants), (
        f"{name}: {np.count_nonzero(got != want)} of {got.size} weights changed; largest "
        f"difference {np.max(np.abs(got.astype(np.float64) - want)):.3g}")


if __name__ == "__main__":
    PINNED.parent.mkdir(exist_ok=True)
    isa = fastmlp._core.active_isa()
    pins = {}
    if PINNED.exists():
        with np.load(PINNED) as data:
            pins = {name: data[name] for name in data.files if not name.endswith(f"@{isa}")}
    for name in sorted(CASES):
        weights = _train(name)
        if name not in pins:
            pins[name] = weights
        elif weights.tobytes() != pins[name].tobytes():
            pins[f"{name}@{isa}"] = weights
    np.savez(PINNED, **pins)
    print(f"wrote {len(pins)} pins ({isa}) to {PINNED}")
