"""The fused training kernels (float32 and float64) against their plain reference twins.

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


def train(isa, optimizer, batch_size, l2=0.0, sizes=SIZES[0], dtype=np.float32):
    _core.set_isa(isa)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, sizes[0])).astype(dtype)
    X[X < -1] = 0  # exact zeros take the skip-zero branch of the batch-1 forward
    y = rng.integers(0, 3, 24)
    model = MLP(sizes, activation="tanh", seed=1, dtype=dtype)
    model.fit(X, y, epochs=2, batch_size=batch_size, optimizer=optimizer,
              learning_rate=0.01, l2=l2)
    return model.params.copy(), model._net.optimizer_state(0).copy()


@pytest.mark.parametrize("isa", [i for i in _core.supported_isas() if i != "reference"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size,l2", [(1, 0.0), (1, 0.1), (5, 0.0), (5, 0.1)])
@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_training_matches_reference_path(isa, optimizer, batch_size, l2, sizes, dtype,
                                               restore_isa):
    want_params, want_state = train("reference", optimizer, batch_size, l2, sizes, dtype)
    got_params, got_state = train(isa, optimizer, batch_size, l2, sizes, dtype)
    assert got_params.dtype == dtype
    # float64 differs from the reference path only by the order of its sums
    tight = dtype == np.float64
    np.testing.assert_allclose(got_params, want_params, rtol=1e-11 if tight else 2e-4,
                               atol=1e-13 if tight else 2e-6)
    np.testing.assert_allclose(got_state, want_state, rtol=1e-10 if tight else 2e-3,
                               atol=1e-13 if tight else 2e-6)
    # the run changed the weights, so the comparison is not of two initial states
    _core.set_isa("reference")
    initial = MLP(sizes, activation="tanh", seed=1, dtype=dtype).params
    assert np.max(np.abs(got_params - initial)) > 1e-3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_one_training_is_identical_for_one_and_two_threads(dtype):
    # 300 x 128 weights pass the threading threshold of the batch-1 kernels,
    # so the row blocks are split between threads in the second run.
    import fastmlp

    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 300)).astype(dtype)
    X[X < 0] = 0
    y = rng.integers(0, 3, 40)
    original = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            model = MLP([300, 128, 3], seed=5, dtype=dtype)
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


# ---------------------------------------------------------------- frozen intercepts

FREEZE_SIZES = [33, 70, 5, 3]
FREEZE_ROWS = 26  # batch 5: five full batches and a lone last row (the fused tail)


def _network(dtype, bias_value=0.0):
    net_class = _core.NetworkF32 if dtype == np.float32 else _core.NetworkF64
    net = net_class(FREEZE_SIZES, ["tanh", "relu", "softmax"], "categorical_cross_entropy")
    rng = np.random.default_rng(8)
    net.params[:] = rng.normal(scale=0.3, size=net.num_params)
    for l in range(len(FREEZE_SIZES) - 1):
        start = net.b_offset(l)
        net.params[start:start + FREEZE_SIZES[l + 1]] = bias_value
    return net


def _bias_mask(net):
    mask = np.zeros(net.num_params, dtype=bool)
    for l in range(len(FREEZE_SIZES) - 1):
        start = net.b_offset(l)
        mask[start:start + FREEZE_SIZES[l + 1]] = True
    return mask


def _freeze_data(dtype):
    rng = np.random.default_rng(9)
    X = rng.normal(size=(FREEZE_ROWS, FREEZE_SIZES[0])).astype(dtype)
    X[X < -0.5] = 0
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, FREEZE_ROWS)]
    order = rng.permutation(FREEZE_ROWS).astype(np.int64)
    return X, Y, order


@pytest.mark.parametrize("isa", _core.supported_isas())
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("l2", [0.0, 0.05])
def test_freeze_bias_equals_zeroing_the_biases_after_every_batch(isa, dtype, optimizer,
                                                                 batch_size, l2, restore_isa):
    _core.set_isa(isa)
    X, Y, order = _freeze_data(dtype)
    args = (optimizer, 0.02, 0.9, 0.9, 0.999, 1e-8, l2)

    # The emulation: one native call per batch, the biases zeroed after each.
    emulated = _network(dtype)
    mask = _bias_mask(emulated)
    for _epoch in range(2):
        for start in range(0, FREEZE_ROWS, batch_size):
            part = np.ascontiguousarray(order[start:start + batch_size])
            result = emulated.train_epoch(X, Y, None, part, batch_size, *args)
            assert result["status"] == "completed"
            emulated.params[mask] = 0

    frozen = _network(dtype)
    losses = []
    for _epoch in range(2):
        result = frozen.train_epoch(X, Y, None, order, batch_size, *args, freeze_bias=True)
        assert result["status"] == "completed"
        assert result["batches"] == -(-FREEZE_ROWS // batch_size)
        losses.append(result["loss"])

    assert frozen.step_count == emulated.step_count
    assert np.array_equal(frozen.params, emulated.params)
    for which in (0, 1):
        state = frozen.optimizer_state(which)
        assert np.array_equal(state[~mask], emulated.optimizer_state(which)[~mask])
        assert np.all(state[mask] == 0)  # the frozen biases' state never moved
    assert np.all(frozen.params[mask] == 0)
    # the weights did train (the comparison is not of two untouched networks)
    assert np.max(np.abs(frozen.params - _network(dtype).params)) > 1e-3
    assert np.all(np.isfinite(losses))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch_size", [1, 4])
def test_freeze_bias_keeps_biases_set_by_the_caller(dtype, batch_size):
    X, Y, order = _freeze_data(dtype)
    net = _network(dtype, bias_value=0.25)
    mask = _bias_mask(net)
    before = net.params.copy()
    net.train_epoch(X, Y, None, order, batch_size, "adam", 0.01, freeze_bias=True)
    assert np.all(net.params[mask] == 0.25)
    assert not np.array_equal(net.params[~mask], before[~mask])
    # without the flag the same epoch moves the biases
    net.train_epoch(X, Y, None, order, batch_size, "adam", 0.01)
    assert not np.all(net.params[mask] == 0.25)


def test_freeze_bias_is_keyword_only():
    X, Y, order = _freeze_data(np.float32)
    net = _network(np.float32)
    with pytest.raises(TypeError):
        net.train_epoch(X, Y, None, order, 1, "sgd", 0.01, 0.9, 0.9, 0.999, 1e-8, 0.0, True)


# ---------------------------------------------------------------- the training lock

def test_native_lock_raises_fastmlp_model_busy_error():
    # The native core raises the public exception type itself (no text matching).
    import threading

    import fastmlp

    assert fastmlp.ModelBusyError is _core.ModelBusyError
    assert issubclass(fastmlp.ModelBusyError, RuntimeError)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(4000, 64)).astype(np.float32)
    Y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 4000)]
    net = _core.NetworkF32([64, 128, 4], ["relu", "softmax"], "categorical_cross_entropy")
    order = np.arange(4000, dtype=np.int64)
    done = threading.Event()
    refusals = []

    def train():
        try:
            for _ in range(50):
                if refusals:
                    break
                net.train_epoch(X, Y, None, order, 1)
        finally:
            done.set()

    trainer = threading.Thread(target=train)
    trainer.start()
    try:
        while not done.is_set() and not refusals:
            try:
                net.gradients(X[:4], Y[:4])
            except fastmlp.ModelBusyError as error:
                refusals.append(error)
    finally:
        trainer.join()
    assert refusals, "the training lock never refused the overlapping call"
    assert type(refusals[0]) is fastmlp.ModelBusyError
    assert "already being trained in another thread" in str(refusals[0])
