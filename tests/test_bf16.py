"""Training with bfloat16 products (precision='bfloat16').

The plain twin (`isa='reference'`) is checked against a numpy emulation of
the contract in csrc/gemm/bf16.h, and the AVX512_BF16 kernel against the twin,
bit for bit; then training: the same weights on any thread count, close to
float32, and clear errors where it cannot run.
"""

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP, _core

FAST = _core.bf16_unavailable() is None
needs_bf16 = pytest.mark.skipif(not FAST, reason=f"no bfloat16 kernels: {_core.bf16_unavailable()}")
TINY = np.finfo(np.float32).tiny


@pytest.fixture
def restore_isa():
    original = _core.active_isa()
    yield
    _core.set_isa(original)


@pytest.fixture
def restore_threads():
    original = fastmlp.get_num_threads()
    yield
    fastmlp.set_num_threads(original)


def bf16_round(x):
    """float32 -> the nearest bfloat16 (ties to even) as float32; subnormals
    become zeros of their sign, NaN stays NaN."""
    x = np.asarray(x, np.float32)
    x = np.where(np.abs(x) < TINY, np.copysign(np.float32(0), x), x)
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16 << 16).astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), np.float32(np.nan), rounded)


def flush(v):
    """Subnormal float32 values as zeros."""
    return np.where(np.abs(v) < TINY, np.float32(0), v).astype(np.float32)


def emulated(A, B, trans_a, trans_b, C=None):
    """The contract in numpy: pairs of k, the odd product added first, each
    addition rounded to float32, subnormal sums flushed."""
    a = bf16_round(A.T if trans_a else A)
    b = bf16_round(B.T if trans_b else B)
    K = a.shape[1]
    if K % 2:
        a = np.hstack([a, np.zeros((a.shape[0], 1), np.float32)])
        b = np.vstack([b, np.zeros((1, b.shape[1]), np.float32)])
    c = np.zeros((a.shape[0], b.shape[1]), np.float32) if C is None else C.astype(np.float32)
    c = flush(c)
    with np.errstate(all="ignore"):
        for p in range(0, a.shape[1], 2):
            c = flush(c + np.outer(a[:, p + 1], b[p + 1]))  # bf16 x bf16 is exact in float32
            c = flush(c + np.outer(a[:, p], b[p]))
    return c


def operands(rng, M, Nc, K, trans_a, trans_b):
    A = rng.standard_normal((K, M) if trans_a else (M, K)).astype(np.float32)
    B = rng.standard_normal((Nc, K) if trans_b else (K, Nc)).astype(np.float32)
    return A, B


# Edges of every kind: one element, K odd, row tiles of 12 and slivers of 32
# with remainders, more than one block of 256 pairs, the 784-256-128-10 layers.
SHAPES = [(1, 1, 1), (5, 7, 3), (12, 32, 2), (13, 33, 17), (25, 65, 513), (3, 5, 1031),
          (128, 10, 128), (40, 256, 784)]
FLAGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("M,Nc,K", SHAPES[:6])
@pytest.mark.parametrize("trans_a,trans_b", FLAGS)
def test_reference_twin_is_the_contract(M, Nc, K, trans_a, trans_b):
    rng = np.random.default_rng(M * 1000 + K)
    A, B = operands(rng, M, Nc, K, trans_a, trans_b)
    got = _core.gemm_bf16(A, B, trans_a, trans_b, isa="reference")
    np.testing.assert_array_equal(got, emulated(A, B, trans_a, trans_b))
    C = rng.standard_normal((M, Nc)).astype(np.float32)
    into = C.copy()
    _core.gemm_bf16(A, B, trans_a, trans_b, isa="reference", into=into)
    np.testing.assert_array_equal(into, emulated(A, B, trans_a, trans_b, C))


def test_bfloat16_products_are_close_to_float64():
    rng = np.random.default_rng(3)
    A, B = operands(rng, 64, 48, 300, False, False)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    got = _core.gemm_bf16(A, B, isa="reference")
    # each input rounded to 8 significant bits: relative errors of about 2^-9 per product
    scale = np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64)
    assert np.max(np.abs(got - exact) / scale) < 2 ** -7
    assert not np.array_equal(got, (A @ B).astype(np.float32))  # it did round


@needs_bf16
@pytest.mark.parametrize("M,Nc,K", SHAPES)
@pytest.mark.parametrize("trans_a,trans_b", FLAGS)
def test_kernel_matches_reference_twin(M, Nc, K, trans_a, trans_b):
    rng = np.random.default_rng(M + Nc + K)
    A, B = operands(rng, M, Nc, K, trans_a, trans_b)
    np.testing.assert_array_equal(_core.gemm_bf16(A, B, trans_a, trans_b),
                                  _core.gemm_bf16(A, B, trans_a, trans_b, isa="reference"))
    C = rng.standard_normal((M, Nc)).astype(np.float32)
    got, want = C.copy(), C.copy()
    _core.gemm_bf16(A, B, trans_a, trans_b, into=got)
    _core.gemm_bf16(A, B, trans_a, trans_b, isa="reference", into=want)
    np.testing.assert_array_equal(got, want)


@needs_bf16
def test_kernel_matches_twin_on_special_values():
    rng = np.random.default_rng(7)
    A, B = operands(rng, 30, 40, 21, False, False)
    A[0, :4] = [np.nan, np.inf, -np.inf, 3.4e38]  # 3.4e38 rounds up to infinity
    A[1, :3] = [1e-39, -1e-40, TINY]              # subnormals read as zero
    B[2, :3] = [1e-39, 1e30, -1e30]
    A[2:5] *= 1e-19                               # products and sums near the subnormals
    C = np.full((30, 40), 1e-39, np.float32)      # a subnormal start reads as zero
    got, want = C.copy(), C.copy()
    _core.gemm_bf16(A, B, into=got)
    _core.gemm_bf16(A, B, isa="reference", into=want)
    np.testing.assert_array_equal(got, want)  # NaN where NaN, bits equal elsewhere
    assert np.isnan(got[0]).any() and np.isfinite(got[5:]).all()


@needs_bf16
def test_kernel_is_the_same_on_any_thread_count(restore_threads):
    rng = np.random.default_rng(11)
    A, B = operands(rng, 300, 256, 784, False, False)
    fastmlp.set_num_threads(1)
    one = _core.gemm_bf16(A, B)
    fastmlp.set_num_threads(2)
    np.testing.assert_array_equal(_core.gemm_bf16(A, B), one)


def classes(seed=0, n=600, d=40):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 0.5)
    return X, y


def fit_bf16(threads, seed=0, **options):
    fastmlp.set_num_threads(threads)
    X, y = classes()
    model = MLP([40, 64, 32, 3], activation="relu", seed=seed)
    model.fit(X, y, epochs=3, batch_size=50, optimizer="momentum", learning_rate=0.05,
              precision="bfloat16", **options)
    return model


@needs_bf16
def test_training_is_the_same_on_any_thread_count(restore_threads):
    one, two = fit_bf16(1).params.copy(), fit_bf16(2).params.copy()
    np.testing.assert_array_equal(one, two)


@needs_bf16
def test_training_differs_from_float32_but_learns_as_well(restore_threads):
    X, y = classes()
    fastmlp.set_num_threads(1)
    f32 = MLP([40, 64, 32, 3], activation="relu", seed=0)
    f32.fit(X, y, epochs=3, batch_size=50, optimizer="momentum", learning_rate=0.05)
    b16 = fit_bf16(1)
    assert not np.array_equal(f32.params, b16.params)  # the products were rounded
    np.testing.assert_allclose(b16.params, f32.params, atol=0.05)
    assert b16.history["loss"][-1] < 0.6 * b16.history["loss"][0]
    assert abs(b16.score(X, y) - f32.score(X, y)) < 0.03
    assert b16._net.bf16_products is False  # back to float32 after the fit
    assert b16.params.dtype == np.float32 and b16.predict_proba(X).dtype == np.float32


@needs_bf16
def test_gradients_with_bfloat16_products_are_close_to_float32():
    X, y = classes()
    model = MLP([40, 64, 32, 3], activation="tanh", seed=2)
    Xn = model.prepare_features(X)
    Y = model._targets(y, len(y))
    loss32, g32 = model.gradients_prepared(Xn, Y, None)
    g32 = g32.copy()
    model._net.bf16_products = True
    try:
        loss16, g16 = model.gradients_prepared(Xn, Y, None)
    finally:
        model._net.bf16_products = False
    assert not np.array_equal(g16, g32)
    assert abs(loss16 - loss32) < 1e-2 * abs(loss32)
    assert np.linalg.norm(g16 - g32) < 2e-2 * np.linalg.norm(g32)


@needs_bf16
def test_sparse_input_and_single_rows_train(restore_threads):
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X, y = classes()
    model = MLP([40, 16, 3], seed=0)
    model.fit(scipy_sparse.csr_matrix(X), y, epochs=2, batch_size=20, precision="bfloat16")
    model.fit(X[:30], y[:30], epochs=1, batch_size=1, precision="bfloat16")
    assert np.isfinite(model.params).all()


def test_unknown_precision_is_refused():
    X, y = classes()
    with pytest.raises(ValueError, match=r"precision must be one of 'float32', 'bfloat16', "
                                         r"got 'float16'"):
        MLP([40, 3]).fit(X, y, epochs=1, precision="float16")


def test_bfloat16_refuses_float64_models():
    X, y = classes()
    model = MLP([40, 3], dtype=np.float64)
    before = model.params.copy()
    with pytest.raises(ValueError, match="trains float32 models.*dtype is float64"):
        model.fit(X, y, epochs=1, precision="bfloat16")
    np.testing.assert_array_equal(model.params, before)
    with pytest.raises(ValueError, match="float32 networks"):
        model._net.bf16_products = True


@pytest.mark.skipif("avx2" not in _core.supported_isas(), reason="needs an x86 CPU with AVX2")
def test_an_instruction_set_without_bf16_gets_a_clear_error(restore_isa):
    X, y = classes()
    model = MLP([40, 8, 3], seed=0)
    before = model.params.copy()
    _core.set_isa("avx2")
    with pytest.raises(ValueError, match=r"precision='bfloat16' is not available here: "
                                         r"bfloat16 products need a CPU with AVX512_BF16.*"
                                         r"active instruction set: avx2"):
        model.fit(X, y, epochs=1, precision="bfloat16")
    np.testing.assert_array_equal(model.params, before)
    with pytest.raises(ValueError, match="AVX512_BF16"):
        _core.gemm_bf16(X, X.T.copy(), isa="avx2")


@needs_bf16
@pytest.mark.skipif("avx2" not in _core.supported_isas(), reason="needs an x86 CPU with AVX2")
def test_switching_the_instruction_set_mid_way_is_refused_not_run(restore_isa):
    X, y = classes()
    model = MLP([40, 8, 3], seed=0)
    model._net.bf16_products = True
    _core.set_isa("avx2")
    Xn = model.prepare_features(X)
    with pytest.raises(ValueError, match="AVX512_BF16"):
        model.gradients_prepared(Xn, model._targets(y, len(y)), None)
    with pytest.raises(ValueError, match="AVX512_BF16"):
        model.train_epoch_prepared(Xn, model._targets(y, len(y)), None,
                                   np.arange(len(y), dtype=np.int64), 50,
                                   fastmlp._engine.Optimizer("sgd", 0.01, 0.9, 0.9, 0.999, 1e-8))


def test_reference_instruction_set_trains_in_bfloat16(restore_isa):
    # the plain loops run anywhere: the contract is testable on every CPU
    _core.set_isa("reference")
    assert _core.bf16_unavailable() is None
    X, y = classes()
    model = MLP([40, 8, 3], seed=0)
    model.fit(X, y, epochs=2, batch_size=100, precision="bfloat16")
    assert model.history["loss"][-1] < model.history["loss"][0]
