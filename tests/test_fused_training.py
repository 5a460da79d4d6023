"""The fused float32 training kernels against their plain reference twins.

With the instruction set forced to 'reference', training takes the unfused
path (reference GEMM, separate backward and optimizer update); every other
instruction set runs the fused kernels. Both must give the same weights.
"""

import numpy as np
import pytest

from fastmlp import MLP, _core


@pytest.fixture
def restore_isa():
    original = _core.active_isa()
    yield
    _core.set_isa(original)


# Odd widths: blocks of 64 rows with a partial last block, 64-column vector
# chunks with a tail, and layers narrower than one chunk.
SIZES = [[33, 17, 5, 3], [130, 70, 3]]


def train(isa, optimizer, batch_size, l2=0.0, sizes=SIZES[0]):
    _core.set_isa(isa)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, sizes[0])).astype(np.float32)
    X[X < -1] = 0  # exact zeros take the skip-zero branch of the batch-1 forward
    y = rng.integers(0, 3, 24)
    model = MLP(sizes, activation="tanh", seed=1)
    model.fit(X, y, epochs=2, batch_size=batch_size, optimizer=optimizer,
              learning_rate=0.01, l2=l2)
    return model.params.copy(), model._net.optimizer_state(0).copy()


@pytest.mark.parametrize("isa", [i for i in _core.supported_isas() if i != "reference"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size,l2", [(1, 0.0), (1, 0.1), (5, 0.0), (5, 0.1)])
@pytest.mark.parametrize("sizes", SIZES)
def test_fused_training_matches_reference_path(isa, optimizer, batch_size, l2, sizes,
                                               restore_isa):
    want_params, want_state = train("reference", optimizer, batch_size, l2, sizes)
    got_params, got_state = train(isa, optimizer, batch_size, l2, sizes)
    np.testing.assert_allclose(got_params, want_params, rtol=2e-4, atol=2e-6)
    np.testing.assert_allclose(got_state, want_state, rtol=2e-3, atol=2e-6)
    # the run changed the weights, so the comparison is not of two initial states
    _core.set_isa("reference")
    initial = MLP(sizes, activation="tanh", seed=1).params
    assert np.max(np.abs(got_params - initial)) > 1e-3


def test_batch_one_training_is_identical_for_one_and_two_threads():
    # 300 x 128 weights pass the threading threshold of the batch-1 kernels,
    # so the row blocks are split between threads in the second run.
    import fastmlp

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 300)).astype(np.float32)
    X[X < 0] = 0
    y = rng.integers(0, 3, 40)
    original = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            model = MLP([300, 128, 3], seed=5)
            model.fit(X, y, epochs=2, batch_size=1, optimizer="momentum", learning_rate=0.01)
            results.append(model.params.tobytes())
    finally:
        fastmlp.set_num_threads(original)
    assert results[0] == results[1]


@pytest.mark.parametrize("optimizer", ["momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [1, 8])
def test_optimizer_state_never_goes_subnormal(optimizer, batch_size):
    # Column 0 is blank in every row (like an MNIST corner pixel): its weights
    # get zero gradient, so their state decays geometrically. Subnormal state
    # would make every later step ~100x slower on x86; it must flush to zero.
    rng = np.random.default_rng(4)
    X = rng.normal(size=(64, 6)).astype(np.float32)
    X[:, 0] = 0
    y = rng.integers(0, 2, 64)
    model = MLP([6, 2], seed=0)
    model.W[0][0, :] = 0.5
    model._net.optimizer_state(0)[:] = 1e-3  # decays to below 1e-38 in ~1,000 steps
    model._net.optimizer_state(1)[:] = 1e-3
    for _ in range(40):  # 40 epochs x 64 rows: thousands of steps at batch 1
        result = model._net.train_epoch(
            np.ascontiguousarray(X), np.eye(2, dtype=np.float32)[y], None,
            np.arange(64, dtype=np.int64), batch_size, optimizer, 0.01, 0.9, 0.9, 0.999, 1e-8, 0.0)
        assert result["status"] == "completed"
    tiny = np.finfo(np.float32).tiny
    for which in (0, 1):
        state = np.abs(model._net.optimizer_state(which))
        assert not np.any((state > 0) & (state < tiny)), state
