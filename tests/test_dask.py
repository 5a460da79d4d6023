"""Dask: dask-ml's Incremental over a chunked array, GridSearchCV on a Dask cluster, pickling.

Needs the test extra's dask, distributed and dask-ml; skipped without them.
"""

import pickle
import warnings

import numpy as np
import pytest

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_ml")

import dask.array as da  # noqa: E402
import joblib  # noqa: E402
from dask_ml.wrappers import Incremental  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

import fastmlp  # noqa: E402

N_ROWS, N_FEATURES, CHUNK_ROWS = 2000, 10, 500
CLASSES = np.array([0, 1, 2])


def three_classes(n_rows, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 0.5)
    return X, y


@pytest.fixture
def dask_client(tmp_path):
    """Two single-threaded workers in this process; closed with the test."""
    # The scheduler's HTTP server binds the loopback address on a free port,
    # so clusters started at the same time on one machine do not collide.
    # The workers' scratch space is the test's own folder: the shared default
    # (dask-scratch-space in the temporary folder) gathers other runs' stale
    # directories, and distributed warns (an error under this suite's
    # filterwarnings) when creating its own takes over a second, as it did
    # on a loaded machine. That warning times the file system, not fastmlp.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Creating scratch directories is taking",
                                category=UserWarning)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                           dashboard_address="127.0.0.1:0",
                                           local_directory=str(tmp_path))
    with cluster, distributed.Client(cluster) as client:
        yield client


def same_weights(a, b):
    return len(a.coefs_) == len(b.coefs_) and all(
        np.array_equal(p, q) for p, q in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_))


# --- Incremental --------------------------------------------------------------------

def _incremental_and_by_hand():
    X, y = three_classes(N_ROWS)
    dX = da.from_array(X, chunks=(CHUNK_ROWS, N_FEATURES))
    dy = da.from_array(y, chunks=CHUNK_ROWS)
    assert dX.numblocks == (N_ROWS // CHUNK_ROWS, 1)
    # shuffle_blocks=False: the blocks go through partial_fit in their order
    incremental = Incremental(fastmlp.MLPClassifier(hidden_layer_sizes=(16,), random_state=0),
                              scoring="accuracy", shuffle_blocks=False)
    incremental.fit(dX, dy, classes=CLASSES)

    by_hand = fastmlp.MLPClassifier(hidden_layer_sizes=(16,), random_state=0)
    for start in range(0, N_ROWS, CHUNK_ROWS):
        by_hand.partial_fit(X[start:start + CHUNK_ROWS], y[start:start + CHUNK_ROWS], classes=CLASSES)
    return incremental, by_hand, X, y


def test_incremental_fits_the_model_of_a_partial_fit_loop_over_the_same_chunks(one_thread):
    with dask.config.set(scheduler="threads"):
        incremental, by_hand, X, y = _incremental_and_by_hand()
    fitted = incremental.estimator_
    assert fitted.t_ == by_hand.t_ == N_ROWS        # every block, once
    assert fitted.n_iter_ == by_hand.n_iter_ == 1
    assert same_weights(fitted, by_hand)
    np.testing.assert_array_equal(incremental.predict(X), by_hand.predict(X))
    assert incremental.score(X, y) == by_hand.score(X, y)


def test_incremental_on_a_distributed_cluster(dask_client, one_thread):
    with distributed.get_task_stream(dask_client) as tasks:
        incremental, by_hand, _, _ = _incremental_and_by_hand()
    assert tasks.data, "the fit ran no task on the cluster"
    assert same_weights(incremental.estimator_, by_hand)


# --- GridSearchCV under joblib's dask backend -----------------------------------------

def test_grid_search_on_the_dask_backend_gives_the_serial_results(dask_client, one_thread):
    X, y = three_classes(300, seed=1)
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(2,), (16,)]}

    def search():
        return GridSearchCV(fastmlp.MLPClassifier(max_iter=30, random_state=0), grid, cv=3)

    serial = search().set_params(n_jobs=1).fit(X, y)
    with distributed.get_task_stream(dask_client) as tasks, joblib.parallel_backend("dask"):
        on_dask = search().fit(X, y)
    assert tasks.data, "the search ran no task on the cluster"
    assert on_dask.cv_results_["params"] == serial.cv_results_["params"]
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    np.testing.assert_array_equal(on_dask.cv_results_["rank_test_score"],
                                  serial.cv_results_["rank_test_score"])
    assert len(set(serial.cv_results_["mean_test_score"])) > 1   # the ranking means something
    assert on_dask.best_params_ == serial.best_params_
    assert same_weights(on_dask.best_estimator_, serial.best_estimator_)


# --- pickling ----------------------------------------------------------------------

def test_a_pickled_estimator_holds_its_weights_as_one_buffer_of_4_bytes_each(quiet_one_thread):
    rng = np.random.default_rng(0)
    X = rng.random((200, 784), dtype=np.float32)
    y = np.arange(200) % 10
    # Plain SGD keeps no optimizer state: the pickle holds the weights alone.
    est = fastmlp.MLPClassifier(hidden_layer_sizes=(1024, 200), max_iter=1, random_state=0,
                                solver="sgd", momentum=0.0).fit(X, y)
    n_params = sum(w.size for w in est.coefs_ + est.intercepts_)
    assert n_params == est.n_params_ == 1_010_850

    flat = est.__getstate__()["_model"].__getstate__()["_net"]
    assert flat.dtype == np.float32 and flat.shape == (n_params,) and flat.flags.c_contiguous

    data = pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL)
    # the weights once, at 4 bytes each, and a few kB of everything else
    assert 4 * n_params < len(data) < 1.02 * 4 * n_params, len(data)

    restored = pickle.loads(data)
    assert same_weights(restored, est)
    np.testing.assert_array_equal(restored.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(restored.predict(X), est.predict(X))

    # Adam's two moments travel as two more buffers of the same size.
    adam = fastmlp.MLPClassifier(hidden_layer_sizes=(1024, 200), max_iter=1, random_state=0).fit(X, y)
    data = pickle.dumps(adam, protocol=pickle.HIGHEST_PROTOCOL)
    assert 12 * n_params < len(data) < 1.02 * 12 * n_params, len(data)


@pytest.mark.parametrize("solver", [
    {"solver": "adam"},
    {"solver": "sgd", "momentum": 0.9},
    {"solver": "sgd", "momentum": 0.0},
], ids=["adam", "sgd-momentum", "sgd"])
def test_partial_fit_goes_on_after_a_pickle_round_trip_as_without_one(one_thread, solver):
    X, y = three_classes(600)
    kept = fastmlp.MLPClassifier(hidden_layer_sizes=(8,), random_state=0, **solver)
    moved = fastmlp.MLPClassifier(hidden_layer_sizes=(8,), random_state=0, **solver)
    kept.partial_fit(X[:300], y[:300], classes=CLASSES)
    moved.partial_fit(X[:300], y[:300], classes=CLASSES)
    moved = pickle.loads(pickle.dumps(moved))
    kept.partial_fit(X[300:], y[300:])
    moved.partial_fit(X[300:], y[300:])
    assert same_weights(kept, moved)
