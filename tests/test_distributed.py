"""Data-parallel training over MPI, on this machine's loopback.

Each test starts `mpiexec -n K python tests/mpi/worker.py SCENARIO DIR` with a
timeout (a hang fails the test instead of stopping the suite) and compares
what every rank wrote: replicas must hold the same bits, a full-batch fit on
K ranks must equal the one-process fit of all rows, a failure on one rank
must end every rank. Three ranks on two cores run oversubscribed.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

pytest.importorskip("mpi4py")

import fastmlp

WORKER = Path(__file__).parent / "mpi" / "worker.py"
MPIEXEC = shutil.which("mpiexec", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
TIMEOUT_SECONDS = 120

pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install 'fastmlp[mpi]')")


def start(ranks, scenario, out_dir):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    env.pop("OMP_NUM_THREADS", None)
    return subprocess.Popen([MPIEXEC, "-n", str(ranks), sys.executable, str(WORKER), scenario,
                             str(out_dir)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)


def run(ranks, scenario, out_dir, *, expect_success=True):
    """Run a scenario to its end; returns (return code, output, one dict per rank)."""
    process = start(ranks, scenario, out_dir)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"mpiexec -n {ranks} {scenario} still ran after {TIMEOUT_SECONDS} s:\n{output}")
    if expect_success:
        assert process.returncode == 0, output
    return process.returncode, output, read_ranks(out_dir, ranks)


def read_ranks(out_dir, ranks):
    results = []
    for rank in range(ranks):
        path = Path(out_dir) / f"rank{rank}.npz"
        results.append(dict(np.load(path)) if path.exists() else None)
    return results


def the_data(n, features=6, classes=3, seed=0):
    """What worker.data gives every rank (before sharding)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8).astype(int)
    return X, np.minimum(y, classes - 1)


def assert_same_on_every_rank(results, keys=None):
    first = results[0]
    for rank, other in enumerate(results[1:], start=1):
        for key in keys or first:
            assert np.array_equal(first[key], other[key]), f"{key} differs on rank {rank}"


@pytest.mark.parametrize("ranks", [2, 3])
def test_a_full_batch_fit_on_k_ranks_equals_the_one_process_fit_in_float64(ranks, tmp_path):
    _, _, results = run(ranks, "full_batch_float64", tmp_path)
    assert_same_on_every_rank(results)
    X, y = the_data(150)
    model = fastmlp.MLP([6, 8, 3], "tanh", "softmax", dtype="float64", normalize="zscore", seed=3)
    model.fit(X, y, epochs=5, batch_size=None, optimizer="adam", learning_rate=0.05, l2=0.01)
    np.testing.assert_allclose(results[0]["params"], model.params, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(results[0]["loss"], model.history["loss"], rtol=1e-12)
    # normalization statistics over all ranks' rows (kept in float32)
    np.testing.assert_allclose(results[0]["offset"], model.normalizer.offset_, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(results[0]["scale"], model.normalizer.scale_, rtol=1e-6)
    # row weights: the weighted sums of every rank, divided by all ranks' rows
    weights = 1.0 + np.arange(len(X)) % 3
    weighted = fastmlp.MLP([6, 5, 1], "sigmoid", "identity", dtype="float64", seed=4)
    weighted.fit(X, X[:, :1] - X[:, 1:2], epochs=4, batch_size=None, learning_rate=0.1,
                 sample_weight=weights)
    np.testing.assert_allclose(results[0]["weighted_params"], weighted.params, rtol=1e-12,
                               atol=1e-13)
    # an estimator (float32): weights rescaled by the sum over all ranks, L2 counted once
    regressor = fastmlp.MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", batch_size=150,
                                     max_iter=4, alpha=0.01, random_state=0)
    with pytest.warns(ConvergenceWarning):
        regressor.fit(X, X[:, 0] + X[:, 1], sample_weight=weights)
    np.testing.assert_allclose(results[0]["regressor_params"], regressor._model.params,
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(results[0]["regressor_loss"], regressor.loss_curve_, rtol=1e-4)


def test_sparse_shards_on_two_ranks_give_the_one_process_fit(tmp_path):
    import scipy.sparse
    _, _, results = run(2, "sparse_rows", tmp_path)
    assert_same_on_every_rank(results)
    X = scipy.sparse.random(150, 40, density=0.1, format="csr", dtype=np.float64,
                            random_state=np.random.default_rng(5))
    _, y = the_data(150)
    model = fastmlp.MLP([40, 7, 3], "tanh", "softmax", dtype="float64", seed=3)
    model.fit(X, y, epochs=4, batch_size=None, optimizer="adam", learning_rate=0.05, l2=0.01)
    np.testing.assert_allclose(results[0]["params"], model.params, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("ranks", [2, 3])
def test_every_estimator_keeps_bit_identical_replicas_over_uneven_shards(ranks, tmp_path):
    _, _, results = run(ranks, "replicas", tmp_path)
    assert_same_on_every_rank(results)
    first = results[0]
    # a step's rows over all ranks: t_ counts every rank's samples
    assert int(first["regressor_t"]) == 5 * 203
    assert int(first["mlp_samples"]) == 203
    assert len(first["early_scores"]) == int(first["early_n_iter"])
    assert first["pinned_params"].dtype == np.float32  # precision= over float64 rows
    # OpenMP threads: the machine's cores shared among its ranks, restored after the fit
    cores = len(os.sched_getaffinity(0))
    assert int(first["threads_during"]) == max(1, cores // ranks)
    assert int(first["threads_after"]) == fastmlp.get_num_threads()


def test_lbfgs_on_two_ranks_follows_the_one_process_path(tmp_path):
    _, _, results = run(2, "lbfgs", tmp_path)
    assert_same_on_every_rank(results)
    X, y = the_data(180)
    clf = fastmlp.LogisticRegression(C=0.5, max_iter=200, tol=1e-8).fit(X, y)
    # float32 sums in another order: the same optimum to float32 rounding
    np.testing.assert_allclose(results[0]["coef"], clf.coef_, rtol=1e-3, atol=1e-4)
    # A network's lbfgs path is chaotic over many iterations; the first few agree.
    reg = fastmlp.MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=5,
                               random_state=0).fit(X, X[:, 0] * X[:, 1])
    assert float(results[0]["reg_loss"]) == pytest.approx(reg.loss_, rel=1e-4)
    np.testing.assert_allclose(results[0]["reg_params"], reg._model.params, rtol=1e-3, atol=1e-4)


def test_the_classes_are_the_union_of_every_ranks_labels(tmp_path):
    _, _, results = run(2, "class_union", tmp_path)
    assert_same_on_every_rank(results)
    assert results[0]["classes"].tolist() == [0, 1, 2]


def test_bad_input_on_one_rank_raises_on_every_rank_and_the_communicator_stays_usable(tmp_path):
    _, _, results = run(2, "bad_input", tmp_path)
    assert str(results[1]["error"]).startswith("ValueError: Input X contains NaN")
    assert str(results[0]["error"]).startswith("DistributedError: the fit stopped on every rank "
                                               "because of bad input on 1 of 2 ranks (rank 1: "
                                               "ValueError: Input X contains NaN")
    assert np.array_equal(results[0]["params"], results[1]["params"])  # the next fit ran


def test_a_bad_parameter_on_one_rank_raises_on_every_rank(tmp_path):
    _, _, results = run(2, "bad_parameter", tmp_path)
    own, other = str(results[1]["errors"]).split(" | "), str(results[0]["errors"]).split(" | ")
    assert own[0].startswith("InvalidParameterError: The 'max_iter' parameter of MLPClassifier")
    assert other[0].startswith("DistributedError: the fit stopped on every rank because of bad "
                               "input on 1 of 2 ranks (rank 1: ")
    assert "InvalidParameterError: The 'max_iter' parameter of MLPClassifier" in other[0]
    assert own[1].startswith("ValueError: epochs must be")
    assert other[1].startswith("DistributedError") and "rank 1: ValueError: epochs must be" in other[1]
    assert np.array_equal(results[0]["params"], results[1]["params"])


def test_a_rank_that_fails_mid_fit_fails_every_rank_within_seconds(tmp_path):
    started = time.perf_counter()
    code, output, _ = run(2, "failing_callback", tmp_path, expect_success=False)
    elapsed = time.perf_counter() - started
    assert code != 0
    assert "rank 1: raised after" in output and "RuntimeError: the callback on rank 1 broke" in output
    assert ("rank 0: raised after" in output
            and "DistributedError: rank 1 of 2 failed, so this rank (rank 0) stops too: "
                "RuntimeError: the callback on rank 1 broke" in output), output
    # 200 epochs would take far longer: rank 0 stopped when rank 1 failed
    assert elapsed < 60, output


def wait_for(path, process, seconds=60):
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{path.name} never appeared:\n{process.communicate()[0]}")
        time.sleep(0.05)


def test_ctrl_c_on_one_rank_stops_every_rank_at_the_same_step(tmp_path):
    process = start(2, "interrupt", tmp_path)
    for rank in (0, 1):
        wait_for(tmp_path / f"pid{rank}", process)
    time.sleep(2.0)   # inside MLP.fit's epochs
    os.kill(int((tmp_path / "pid1").read_text()), signal.SIGINT)
    wait_for(tmp_path / "second", process)
    time.sleep(2.0)   # inside MLPClassifier.fit's epochs
    os.kill(int((tmp_path / "pid0").read_text()), signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"an interrupted rank left the others waiting:\n{process.communicate()[0]}")
    assert process.returncode == 0, output
    results = read_ranks(tmp_path, 2)
    assert_same_on_every_rank(results)
    assert str(results[0]["stopped"]).startswith("AgreedInterrupt: a rank was interrupted")
    assert int(results[0]["epochs"]) >= 1


def test_only_rank_zero_writes_a_model_file_and_warns(tmp_path):
    _, _, results = run(2, "save_on_rank_zero", tmp_path)
    assert int(results[0]["wrote"]) == 1 and int(results[1]["wrote"]) == 0
    assert int(results[0]["warned"]) == 1 and int(results[1]["warned"]) == 0
    assert not (tmp_path / "model-from-rank1.fastmlp").exists()
    loaded = fastmlp.load(tmp_path / "model-from-rank0.fastmlp")
    assert loaded.classes_.tolist() == [0, 1, 2]


def test_comm_must_be_a_communicator():
    X, y = the_data(20)
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator .* got str"):
        fastmlp.MLPClassifier((3,), max_iter=1).fit(X, y, comm="world")
    with pytest.raises(TypeError, match="comm must be an mpi4py communicator .* got int"):
        fastmlp.MLP([6, 3]).fit(X, y, comm=0)


def test_a_one_rank_communicator_gives_the_one_process_fit():
    from mpi4py import MPI

    X, y = the_data(64)
    alone = fastmlp.MLPClassifier((5,), batch_size=16, max_iter=3, random_state=0).fit(X, y)
    over_self = fastmlp.MLPClassifier((5,), batch_size=16, max_iter=3, random_state=0).fit(
        X, y, comm=MPI.COMM_SELF)
    for a, b in zip(alone.coefs_, over_self.coefs_):
        np.testing.assert_array_equal(a, b)
    assert alone.loss_curve_ == pytest.approx(over_self.loss_curve_, rel=1e-6)


def test_the_distributed_example_gives_every_rank_the_same_weights(tmp_path):
    script = Path(__file__).resolve().parent.parent / "examples" / "distributed_mnist.py"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(script)], capture_output=True,
                         text=True, timeout=TIMEOUT_SECONDS, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stdout + run.stderr
    # the ranks' lines may interleave in mpiexec's output
    hashes = re.findall(r"weights ([0-9a-f]{16})", run.stdout)
    assert len(hashes) == 2 and len(set(hashes)) == 1, run.stdout
    assert "test accuracy after 4 epochs on 2 rank(s)" in run.stdout
    assert (tmp_path / "digits-distributed.fastmlp").exists()
