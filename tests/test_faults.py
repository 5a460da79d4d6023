"""Faults during training: divergence, Ctrl-C, and memory use.

Ctrl-C and memory run in a subprocess: a real SIGINT must not hit pytest, and
resident memory is only meaningful for a fresh process.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastmlp

SANITIZED = bool(os.environ.get("FASTMLP_SANITIZED"))


def _regression_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    return X, X @ np.array([1, 2, 3, 4], dtype=np.float32)


# --------------------------------------------------------------- divergence

# Adam's step is about the learning rate itself, so it needs a far larger one.
@pytest.mark.parametrize("optimizer, learning_rate", [("sgd", 1e6), ("momentum", 1e6),
                                                      ("adam", 1e30)])
def test_huge_learning_rate_stops_with_training_diverged_error(optimizer, learning_rate):
    X, y = _regression_data()
    model = fastmlp.MLP([4, 16, 1], output="identity", seed=0)
    model.fit(X, y, epochs=1, learning_rate=1e-3, optimizer=optimizer)
    after_first_fit = np.array(model.params)
    with pytest.raises(fastmlp.TrainingDivergedError,
                       match=r"loss became NaN or infinite at epoch 1, batch \d+; .*learning "
                             rf"rate \({re.escape(str(learning_rate))}\) may be too large.*start of epoch 1") as caught:
        model.fit(X, y, epochs=5, batch_size=8, learning_rate=learning_rate, optimizer=optimizer)
    assert isinstance(caught.value, ValueError)
    # Restored to the start of the diverging epoch, not left at the blown-up update.
    np.testing.assert_array_equal(model.params, after_first_fit)
    assert np.all(np.isfinite(model.predict(X)))
    model.fit(X, y, epochs=2, learning_rate=1e-3)
    assert np.all(np.isfinite(model.params))
    assert model.loss(X, y) < 1e3


def test_divergence_in_a_later_epoch_keeps_the_earlier_epochs():
    X, y = _regression_data()
    X = np.abs(X) + 1  # positive rows: 1e38 weights overflow on every one
    model = fastmlp.MLP([4, 1], output="identity", seed=0)
    at_epoch_end = []

    def sabotage_after_epoch_2(model, metrics):
        if metrics["epoch"] == 2:
            model.W[0][...] = 1e38  # epoch 3's first batch overflows to inf
        at_epoch_end.append(np.array(model.params))

    with pytest.raises(fastmlp.TrainingDivergedError, match="at epoch 3, batch 1;"):
        model.fit(X, y, epochs=5, learning_rate=1e-3, callbacks=[sabotage_after_epoch_2])
    assert model.history["epoch"] == [1, 2]
    np.testing.assert_array_equal(model.params, at_epoch_end[-1])


def test_non_finite_loss_from_the_native_epoch_leaves_a_status_not_a_crash():
    X, y = _regression_data()
    X = np.abs(X) + 1
    model = fastmlp.MLP([4, 1], output="identity", seed=0)
    model.W[0][...] = 1e38  # z = x W overflows float32 on every row
    Y = np.ascontiguousarray(y[:, None])
    result = model._net.train_epoch(X, Y, None, np.arange(len(X), dtype=np.int64), 10)
    assert result["status"] == "non_finite" and result["failed_batch"] == 0
    assert result["batches"] == 0
    np.testing.assert_array_equal(model.W[0], np.full((4, 1), 1e38, dtype=np.float32))


# --------------------------------------------------------------- Ctrl-C

INTERRUPTED_FIT = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import fastmlp

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 20000)
    model = fastmlp.MLP([784, 1024, 10], seed=0)
    model.fit(X[:64], y[:64], epochs=1, batch_size=32)  # warm-up
    batches = -(-len(X) // 32)
    started = time.perf_counter()
    model.fit(X[:320], y[:320], epochs=1, batch_size=32, shuffle=False)
    seconds_per_batch = (time.perf_counter() - started) / 10
    print(json.dumps({"ready": True, "seconds_per_batch": seconds_per_batch, "batches": batches}),
          flush=True)
    try:
        # Five epochs, so a signal sent a fifth into the first still lands
        # inside the fit when the machine's speed changes fivefold meanwhile.
        model.fit(X, y, epochs=5, batch_size=32)
        outcome = "completed"
    except KeyboardInterrupt:
        outcome = "interrupted"
    caught_at = time.time()
    steps = model._net.step_count
    finite = bool(np.all(np.isfinite(model.params)))
    before = np.array(model.params)
    predictions = model.predict(X[:100])
    model.fit(X[:256], y[:256], epochs=1, batch_size=32)
    print(json.dumps({"outcome": outcome, "caught_at": caught_at, "steps": steps,
                      "batches": batches, "finite": finite,
                      "predicts": bool(predictions.shape == (100,)),
                      "trained_on": bool(not np.array_equal(before, model.params))}), flush=True)
""")


def test_ctrl_c_stops_fit_within_about_one_batch_and_the_model_trains_on(tmp_path):
    script = tmp_path / "interrupted_fit.py"
    script.write_text(INTERRUPTED_FIT)
    child = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        ready = json.loads(child.stdout.readline())
        assert ready["ready"]
        # A fifth into the epoch, by this machine's own measured speed: a
        # fixed delay can outlast the whole epoch on a fast, idle machine.
        time.sleep(0.2 * ready["seconds_per_batch"] * ready["batches"])
        sent_at = time.time()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["outcome"] == "interrupted"
    # The native stop check ran mid-fit: some batches applied, not all.
    assert 0 < report["steps"] < 5 * report["batches"]
    # SignalWatch polls every 20 ms between batches; allow one batch plus
    # scheduling noise on a loaded machine.
    latency = report["caught_at"] - sent_at
    assert latency < 0.5 + 2 * ready["seconds_per_batch"], latency
    assert report["finite"] and report["predicts"] and report["trained_on"]


# --------------------------------------------------------------- memory

MEMORY_BUDGET = textwrap.dedent("""
    import json, resource, tracemalloc
    import numpy as np
    import fastmlp

    def resident_bytes():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    def peak_resident_bytes():
        # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across
        # fork + exec, so a child of a big pytest process would report the
        # parent's peak.
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024

    model = fastmlp.MLP([784, 16, 10], seed=0)
    rng = np.random.default_rng(0)
    warm_X = rng.standard_normal((256, 784), dtype=np.float32)
    model.fit(warm_X, rng.integers(0, 10, 256), epochs=1, batch_size=128)  # lazy imports
    model.predict(warm_X)
    del warm_X
    before_X = resident_bytes()
    peak_before_X = peak_resident_bytes()
    X = rng.standard_normal((60000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 60000)
    tracemalloc.start()
    model.fit(X, y, epochs=2, batch_size=128)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    peak = peak_resident_bytes()
    print(json.dumps({"X_bytes": X.nbytes, "model_bytes": model.params.nbytes,
                      "before_X": before_X, "peak_before_X": peak_before_X,
                      "peak": peak, "traced_peak": traced_peak}))
""")


def run_measuring_script(tmp_path, source):
    """Runs `source` in a fresh interpreter and returns the JSON it prints."""
    script = tmp_path / "measure.py"
    script.write_text(source)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(SANITIZED, reason="ASan's shadow memory inflates resident memory")
def test_training_memory_stays_within_one_and_a_half_X(tmp_path):
    m = run_measuring_script(tmp_path, MEMORY_BUDGET)
    # Params, grads and two optimizer-state buffers, plus the epoch backup.
    model_bytes = 7 * m["model_bytes"]
    grown = m["peak"] - m["before_X"]
    assert m["peak_before_X"] < m["before_X"] + m["X_bytes"] // 2
    assert grown < 1.5 * m["X_bytes"] + model_bytes, m
    # numpy allocations during fit (one-hot Y, epoch order, ...) are nowhere
    # near a copy of X, so X is never copied, once or per epoch.
    assert m["traced_peak"] < 0.1 * m["X_bytes"], m


REPEATED_CYCLES = textwrap.dedent("""
    import json, resource
    import numpy as np
    import fastmlp

    def resident_bytes():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()

    # One thread: this measures leaks, not speed, and idle OpenMP workers
    # spinning on a loaded machine only slow it down.
    fastmlp.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 100)).astype(np.float32)
    y = rng.integers(0, 10, 64)

    def cycle(seed):
        model = fastmlp.MLP([100, 256, 10], seed=seed, normalize="zscore")
        model.fit(X, y, epochs=1, batch_size=16, optimizer="adam")
        model.predict(X)
        model.loss(X, y)
        model.gradients(X[:32], y[:32])

    for seed in range(10):
        cycle(seed)
    before = resident_bytes()
    for seed in range(100):
        cycle(seed)
    after = resident_bytes()
    print(json.dumps({"before": before, "after": after,
                      "model_bytes": 4 * (100 * 256 + 256 + 256 * 10 + 10)}))
""")


@pytest.mark.skipif(SANITIZED, reason="ASan's quarantine holds freed memory on purpose")
def test_repeated_fit_predict_does_not_grow_resident_memory(tmp_path):
    m = run_measuring_script(tmp_path, REPEATED_CYCLES)
    # A leak of even one parameter buffer per cycle would add 100 x 110 KB.
    assert m["after"] - m["before"] < 4 * 2**20, m
    assert m["model_bytes"] * 100 > 10 * 2**20
