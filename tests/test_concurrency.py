"""Threads: concurrent predict is safe and parallel; concurrent fits are refused."""

import os
import signal
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastmlp
from fastmlp._threads import native_threads


def _data(n=400, features=20, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, features)).astype(np.float32), np.arange(n) % classes


@pytest.fixture
def model():
    X, y = _data()
    return fastmlp.MLP([20, 32, 16, 4], seed=0, normalize="zscore").fit(X, y, epochs=2)


def _assert_callers_at_once_match(predict, batches, expected, callers, repeats=1):
    """`callers` Python threads start together, each predicting every batch
    `repeats` times from its own offset; every answer has expected's bits."""
    start = threading.Barrier(callers)

    def predict_all(offset):
        start.wait()
        order = [(offset + i) % len(batches) for i in range(len(batches))]
        return [(i, predict(batches[i])) for i in order for _ in range(repeats)]

    with ThreadPoolExecutor(callers) as pool:
        results = list(pool.map(predict_all, range(callers)))
    for result in results:
        for i, out in result:
            assert out.tobytes() == expected[i].tobytes()


def test_threads_predicting_at_once_match_one_thread(model):
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((int(rng.integers(1, 3000)), 20)).astype(np.float32)
               for _ in range(24)]
    expected = [model.predict_proba(X) for X in batches]
    _assert_callers_at_once_match(model.predict_proba, batches, expected, callers=4)


def test_threads_sharing_the_kernel_team_match_one_thread():
    """Layers wide enough for every product to run on the thread team: while
    one caller holds it, the others run as teams of one, with the same bits."""
    rng = np.random.default_rng(3)
    net = fastmlp.MLP([784, 256, 128, 10], seed=0)
    batches = [rng.standard_normal((rows, 784)).astype(np.float32)
               for rows in (1, 1, 7, 128, 1, 600, 1, 64) * 3]
    with native_threads(1):
        expected = [net.predict_proba(X) for X in batches]
    _assert_callers_at_once_match(net.predict_proba, batches, expected, callers=3, repeats=3)


def test_more_threads_than_cpus_give_the_same_bits():
    """A team larger than the machine (its members then share CPUs, and
    waiters must give theirs away) trains and predicts as one thread does."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((600, 784)).astype(np.float32)
    y = np.arange(600) % 10
    threads = 2 * (os.cpu_count() or 1) + 1
    results = {}
    for count in (1, threads):
        with native_threads(count):
            net = fastmlp.MLP([784, 256, 128, 10], seed=0).fit(X, y, epochs=1, batch_size=128)
            results[count] = (net.params.copy(), net.predict_proba(X[:1]), net.predict_proba(X))
    for one, many in zip(results[1], results[threads]):
        assert one.tobytes() == many.tobytes()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_kernels_on_a_team_of_its_own():
    """The parent's workers do not exist in a child of fork(): the child must
    start its own, not wait for them forever."""
    rng = np.random.default_rng(4)
    net = fastmlp.MLP([784, 256, 128, 10], seed=0)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    with native_threads(2):
        expected = net.predict_proba(X)   # the parent's team now has its worker
        _predict_in_a_forked_child(net, X, expected)


def _predict_in_a_forked_child(net, X, expected):
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python warns about fork() in a process with threads; the child
        # below only computes, writes and exits.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:
        try:
            same = net.predict_proba(X).tobytes() == expected.tobytes()
            os.write(write_end, b"same" if same else b"different")
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        pytest.fail("the forked child's prediction did not finish within 60 s")
    with os.fdopen(read_end, "rb") as answer:
        assert answer.read() == b"same"


def test_native_predict_releases_the_gil(model):
    """While one thread is inside native predict, another Python thread keeps running."""
    X = np.random.default_rng(2).standard_normal((200_000, 20)).astype(np.float32)
    net = model._net
    Xn = model.normalizer.transform(X, np.float32)
    timing = {}

    def predict():
        timing["start"] = time.perf_counter()
        net.predict(Xn)
        timing["end"] = time.perf_counter()

    ticks = []
    worker = threading.Thread(target=predict)
    worker.start()
    while worker.is_alive():
        ticks.append(time.perf_counter())
    worker.join()
    inside = [t for t in ticks if timing["start"] <= t <= timing["end"]]
    duration = timing["end"] - timing["start"]
    # With the GIL held for the whole call this thread could not tick at all
    # during it; released, it ticks throughout (gaps are scheduler noise).
    gaps = np.diff([timing["start"], *inside, timing["end"]])
    assert len(inside) > 10, (len(inside), duration)
    assert gaps.max() < 0.6 * duration, (gaps.max(), duration)


def test_second_fit_while_training_is_refused_and_the_first_is_not_disturbed():
    X, y = _data()
    reference = fastmlp.MLP([20, 32, 4], seed=5).fit(X, y, epochs=4)
    model = fastmlp.MLP([20, 32, 4], seed=5)
    in_fit, attempted = threading.Event(), threading.Event()

    def pause_after_first_epoch(model, metrics):
        if metrics["epoch"] == 1:
            in_fit.set()
            assert attempted.wait(30)

    trainer = threading.Thread(
        target=lambda: model.fit(X, y, epochs=4, callbacks=[pause_after_first_epoch]))
    trainer.start()
    try:
        assert in_fit.wait(30)
        with pytest.raises(fastmlp.ModelBusyError,
                           match=r"fit\(\) refused: this model \(MLP\) is being trained in another thread"):
            model.fit(X, y, epochs=1, learning_rate=100.0)
        with pytest.raises(fastmlp.ModelBusyError, match=r"gradients\(\) refused"):
            model.gradients(X, y)
        # Prediction is not training: allowed, and sees the weights after epoch 1.
        assert model.predict(X).shape == (len(X),)
    finally:
        attempted.set()
        trainer.join(60)
    # The refused calls changed nothing: the result equals an undisturbed fit.
    np.testing.assert_array_equal(model.params, reference.params)
    assert model.history["epoch"] == [1, 2, 3, 4]
    model.fit(X, y, epochs=1)  # and the model is free again


def test_native_epoch_lock_refuses_a_concurrent_native_call():
    """Below the Python lock, the native network refuses overlapping training too."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20_000, 64)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 20_000)]
    model = fastmlp.MLP([64, 256, 4], seed=0)
    net = model._net
    order = np.arange(len(X), dtype=np.int64)
    errors = []
    epoch_done = threading.Event()

    def long_epoch():
        try:
            for _ in range(20):
                if errors:
                    break
                net.train_epoch(X, Y, None, order, 1)
        finally:
            epoch_done.set()

    trainer = threading.Thread(target=long_epoch)
    trainer.start()
    while not epoch_done.is_set() and not errors:
        try:
            net.gradients(X[:8], Y[:8], None, 0.0)
        except fastmlp.ModelBusyError as error:
            errors.append(error)
    trainer.join()
    assert errors, "the native training lock never refused the overlapping call"
    assert "already being trained in another thread" in str(errors[0])
    assert np.all(np.isfinite(model.params))


def test_predicting_during_a_fit_never_crashes():
    X, y = _data(2000)
    model = fastmlp.MLP([20, 32, 4], seed=0)
    done = threading.Event()
    outputs = []

    def keep_predicting():
        while not done.is_set():
            outputs.append(model.predict_proba(X[:100]))

    reader = threading.Thread(target=keep_predicting)
    reader.start()
    try:
        model.fit(X, y, epochs=5, batch_size=16)
    finally:
        done.set()
        reader.join()
    assert outputs
    for out in outputs:
        assert np.all(np.isfinite(out))
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)


def test_thread_round_trip_probe_measures_something():
    # The training benchmark's witness of where the two CPUs sit: a positive
    # time per round trip between two threads of the kernels' team.
    value = fastmlp._core._thread_round_trip_ns(2000)
    assert value == -1 or 1 <= value < 1e7, value


def _estimator_cases():
    return [
        ("MLPClassifier", lambda: fastmlp.MLPClassifier((16,), random_state=0)),
        ("MLPRegressor", lambda: fastmlp.MLPRegressor(hidden_layer_sizes=(16,), random_state=0)),
        ("LogisticRegression", lambda: fastmlp.LogisticRegression(solver="sgd", random_state=0)),
        ("Perceptron", lambda: fastmlp.Perceptron(random_state=0)),
    ]


@pytest.mark.parametrize("name,make", _estimator_cases(), ids=[c[0] for c in _estimator_cases()])
def test_second_trainer_on_an_estimator_is_refused_and_the_first_is_not_disturbed(name, make):
    """partial_fit / fit from a second thread while a partial_fit runs: ModelBusyError."""
    X, labels = _data(3000)
    y = labels.astype(np.float64) if name == "MLPRegressor" else labels
    classes = {} if name == "MLPRegressor" else {"classes": np.unique(labels)}
    reference = make().partial_fit(X, y, **classes).partial_fit(X, y)
    est = make().partial_fit(X, y, **classes)
    in_fit, attempted = threading.Event(), threading.Event()
    # Hold the first trainer inside its native epoch until the second has been refused.
    model = est._model
    native_epoch = model.train_epoch_prepared

    def held_epoch(*args, **kwargs):
        in_fit.set()
        assert attempted.wait(30)
        return native_epoch(*args, **kwargs)

    model.train_epoch_prepared = held_epoch
    trainer = threading.Thread(target=lambda: est.partial_fit(X, y))
    trainer.start()
    try:
        assert in_fit.wait(30)
        with pytest.raises(fastmlp.ModelBusyError, match=r"partial_fit\(\) refused"):
            est.partial_fit(X, y)
        with pytest.raises(fastmlp.ModelBusyError, match=r"fit\(\) refused"):
            est.fit(X, y)
    finally:
        attempted.set()
        trainer.join(60)
    del model.train_epoch_prepared
    got = np.concatenate([c.ravel() for c in (*est.coefs_, *est.intercepts_)])
    want = np.concatenate([c.ravel() for c in (*reference.coefs_, *reference.intercepts_)])
    assert got.tobytes() == want.tobytes()
    est.partial_fit(X, y)  # and it is free again


def test_predict_during_validation_scoring_is_always_normalized():
    """Scoring validation data during a fit leaves the model's normalization in place.

    The learning rate is so small that no weight moves, so every prediction made
    during the fit must equal the one before it, bit for bit; a forward pass
    without the z-score normalization (features offset by 1000) would not.
    """
    rng = np.random.default_rng(4)
    X = (rng.standard_normal((3000, 20)) + 1000).astype(np.float32)
    y = np.arange(3000) % 4
    model = fastmlp.MLP([20, 32, 4], seed=0, normalize="zscore")
    model.fit(X, y, epochs=1, learning_rate=1e-30)
    probe = X[:50]
    expected = model.predict_proba(probe)
    done = threading.Event()
    seen = []

    def keep_predicting():
        while not done.is_set():
            seen.append(model.predict_proba(probe))

    reader = threading.Thread(target=keep_predicting)
    reader.start()
    try:
        model.fit(X, y, epochs=6, batch_size=512, learning_rate=1e-30,
                  validation_data=(X, y), train_metrics=True)
    finally:
        done.set()
        reader.join()
    assert len(seen) > 10
    for out in seen:
        assert out.tobytes() == expected.tobytes()
