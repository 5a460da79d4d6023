"""The float32 and float64 GEMM of every supported instruction set against the reference
loop and against numpy float64, on odd shapes and all transpose combinations."""
import itertools

import numpy as np
import pytest

_core = pytest.importorskip("fastmlp._core")

ISAS = list(_core.supported_isas())
FAST_ISAS = [isa for isa in ISAS if isa != "reference"]
ODD = (1, 3, 17, 33, 257)
TRANSPOSES = list(itertools.product((False, True), repeat=2))


def _operands(M, Nc, K, trans_a, trans_b, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, Nc)).astype(np.float32)
    # Stored operands: trans_a means A is kept K x M, trans_b means B is kept Nc x K.
    A = np.ascontiguousarray(a.T) if trans_a else a
    B = np.ascontiguousarray(b.T) if trans_b else b
    return A, B, a.astype(np.float64) @ b.astype(np.float64)


def _assert_close(C, expected, K, what):
    tol = 1e-5 * np.sqrt(K) * max(np.linalg.norm(expected), 1e-30)
    err = np.linalg.norm(C.astype(np.float64) - expected)
    assert err <= tol, f"{what}: |C - expected| = {err:.3e} > {tol:.3e}"


def _sampled_shapes():
    # Every (M, Nc, K) triple of the odd sizes would be 125 shapes x 4 transposes
    # x ISAs; all triples where at least one size is 1 or 257 plus a seeded sample
    # of the rest keep the run short while covering every edge.
    triples = list(itertools.product(ODD, repeat=3))
    edges = [t for t in triples if 1 in t or 257 in t]
    rest = [t for t in triples if t not in edges]
    rng = np.random.default_rng(1)
    picked = [rest[i] for i in rng.choice(len(rest), size=min(12, len(rest)), replace=False)]
    return edges + picked


SHAPES = _sampled_shapes()


@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_gemm_matches_reference_and_float64(isa, trans_a, trans_b):
    for M, Nc, K in SHAPES:
        A, B, expected = _operands(M, Nc, K, trans_a, trans_b, seed=M * 1000 + Nc * 10 + K)
        C = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa)
        ref = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa="reference")
        what = f"{isa} M={M} Nc={Nc} K={K} trans_a={trans_a} trans_b={trans_b}"
        assert C.shape == (M, Nc) and C.dtype == np.float32, what
        assert np.all(np.isfinite(C)), what + ": non-finite output (garbage in C read?)"
        _assert_close(C, expected, K, what + " vs float64")
        _assert_close(C, ref.astype(np.float64), K, what + " vs reference")


# MLP layer shapes (forward, dW = A^T dZ, dA = dZ W^T) and sizes that cross
# the micro-tile and thread-split boundaries.
LAYER_CASES = [
    (M, Nc, K, ta, tb)
    for (M, Nc, K, ta, tb) in [
        (128, 256, 784, False, False),
        (784, 256, 128, True, False),
        (128, 784, 256, False, True),
        (1024, 10, 128, False, False),
        (128, 10, 1024, True, False),
        (1024, 128, 10, False, True),
        (1, 256, 784, False, False),
        (1, 784, 256, False, True),
        (784, 256, 1, True, False),
        (784, 256, 32, True, False),  # packed B of 32 KB: threads split the rows
        (1024, 784, 1, False, True),  # an outer product (the dA of one output)
        (97, 45, 300, True, True),
        (1000, 1, 300, False, False),  # one output column: the transposed gemv
        (300, 1, 1000, True, True),
        (33, 40, 2500, True, False),  # K past one micro-kernel block
        # Narrow A^T B (a 10-output layer's dW) runs as C^T = B^T A:
        (128, 10, 128, True, False),
        (784, 10, 1000, True, False),  # large enough for threads
        (150, 10, 70, True, True),
        (200, 9, 3000, True, False),  # and K past one micro-kernel block
        (20, 300, 2100, False, True),
    ]
]


@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("M,Nc,K,trans_a,trans_b", LAYER_CASES)
def test_gemm_layer_shapes(isa, M, Nc, K, trans_a, trans_b):
    A, B, expected = _operands(M, Nc, K, trans_a, trans_b, seed=7)
    C = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa)
    _assert_close(C, expected, K, f"{isa} {M}x{Nc}x{K}")


@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("M,Nc,K,trans_b", [(128, 10, 128, False), (784, 10, 1000, False),
                                             (150, 10, 70, True), (200, 9, 3000, False)])
def test_narrow_transposed_product_equals_direct_one(isa, M, Nc, K, trans_b):
    # A^T B with few columns is computed as (B^T A)^T; each element must still be
    # the direct product's ascending-k FMA chain, so it equals the same product
    # from a row-major copy of A^T (which takes the direct route) bit for bit.
    A, B, _ = _operands(M, Nc, K, True, trans_b, seed=11)
    via_transpose = _core.gemm(A, B, trans_a=True, trans_b=trans_b, isa=isa)
    direct = _core.gemm(np.ascontiguousarray(A.T), B, trans_a=False, trans_b=trans_b, isa=isa)
    assert np.array_equal(via_transpose, direct)


@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("M,Nc,K,trans_b", [(784, 256, 128, False), (256, 128, 1024, False),
                                             (100, 70, 2100, True), (67, 33, 5, False)])
def test_packed_a_panels_give_the_in_place_products(isa, M, Nc, K, trans_b):
    # A stored A^T with long rows (the dW products) is copied into panels
    # first; every element must still be the same ascending-k FMA chain as the
    # product from a row-major copy of A^T, which is read in place.
    A, B, _ = _operands(M, Nc, K, True, trans_b, seed=13)
    packed = _core.gemm(A, B, trans_a=True, trans_b=trans_b, isa=isa)
    in_place = _core.gemm(np.ascontiguousarray(A.T), B, trans_a=False, trans_b=trans_b, isa=isa)
    assert np.array_equal(packed, in_place)
    start = np.random.default_rng(14).normal(size=(M, Nc)).astype(np.float32)
    into_packed, into_in_place = start.copy(), start.copy()
    _core.gemm(A, B, trans_a=True, trans_b=trans_b, isa=isa, into=into_packed)
    _core.gemm(np.ascontiguousarray(A.T), B, trans_a=False, trans_b=trans_b, isa=isa,
               into=into_in_place)
    assert np.array_equal(into_packed, into_in_place)


@pytest.mark.parametrize("isa", ISAS)
@pytest.mark.parametrize("M,Nc,K,trans_a,trans_b", LAYER_CASES + [(1, 300, 50, True, False)])
def test_gemm_accumulates_into_an_existing_output(isa, M, Nc, K, trans_a, trans_b):
    # beta = 1 (C += op(A) op(B)) on every path: one-row and one-column vector
    # loops, the transposed narrow product, tiles with K in several blocks.
    A, B, expected = _operands(M, Nc, K, trans_a, trans_b, seed=5)
    start = np.random.default_rng(6).normal(size=(M, Nc)).astype(np.float32)
    C = start.copy()
    returned = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa, into=C)
    assert returned is C
    _assert_close(C, start.astype(np.float64) + expected, K, f"{isa} {M}x{Nc}x{K} accumulate")


def test_gemm_into_must_match_the_product():
    A = np.ones((4, 3), np.float32)
    B = np.ones((3, 5), np.float32)
    for bad in (np.ones((4, 4), np.float32), np.ones((4, 5), np.float64),
                np.ones((5, 4), np.float32).T):
        with pytest.raises(ValueError, match="into"):
            _core.gemm(A, B, into=bad)


@pytest.fixture
def restore_threads():
    before = _core.get_num_threads()
    yield
    _core.set_num_threads(before)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("M,Nc,K,trans_a,trans_b", LAYER_CASES)
def test_gemm_bit_identical_across_thread_counts(isa, M, Nc, K, trans_a, trans_b, dtype,
                                                 restore_threads):
    operands = _operands if dtype == "float32" else _operands64
    A, B, _ = operands(M, Nc, K, trans_a, trans_b, seed=3)
    results = []
    for threads in (1, 2, 3):
        _core.set_num_threads(threads)
        results.append(_core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa))
    for threads, C in zip((2, 3), results[1:]):
        assert np.array_equal(C, results[0]), f"{dtype} {isa}: {threads} threads differ from 1"


@pytest.mark.parametrize("isa", FAST_ISAS)
def test_gemm_ignores_garbage_in_fresh_output(isa):
    # The binding allocates C uninitialized and calls with beta = 0: stale NaN/inf
    # in that memory must never leak. Fill freed blocks with NaN first so a fresh
    # allocation is likely to reuse them.
    for _ in range(8):
        junk = np.full((257, 257), np.nan, dtype=np.float32)
        del junk
    for M, Nc, K in [(257, 257, 33), (3, 17, 1), (1, 257, 17), (33, 10, 257)]:
        A, B, expected = _operands(M, Nc, K, False, False, seed=5)
        C = _core.gemm(A, B, isa=isa)
        assert np.all(np.isfinite(C))
        _assert_close(C, expected, K, f"{isa} {M}x{Nc}x{K}")


@pytest.mark.parametrize("isa", FAST_ISAS)
def test_gemm_zero_inner_dimension(isa):
    C = _core.gemm(np.zeros((4, 0), np.float32), np.zeros((0, 5), np.float32), isa=isa)
    assert C.shape == (4, 5) and np.all(C == 0)


def test_reference_matches_float64():
    for trans_a, trans_b in TRANSPOSES:
        A, B, expected = _operands(33, 17, 257, trans_a, trans_b)
        C = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa="reference")
        _assert_close(C, expected, 257, "reference")


# ------------------------------------------------------------------ float64
def _operands64(M, Nc, K, trans_a, trans_b, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((M, K)), rng.standard_normal((K, Nc))
    A = np.ascontiguousarray(a.T) if trans_a else a
    B = np.ascontiguousarray(b.T) if trans_b else b
    return A, B, a @ b


def _assert_close64(C, expected, K, what):
    tol = 1e-14 * np.sqrt(K) * max(np.linalg.norm(expected), 1e-300)
    err = np.linalg.norm(C - expected)
    assert err <= tol, f"{what}: |C - expected| = {err:.3e} > {tol:.3e}"


@pytest.mark.parametrize("isa", FAST_ISAS)
@pytest.mark.parametrize("trans_a,trans_b", TRANSPOSES)
def test_float64_gemm_matches_its_reference_and_numpy(isa, trans_a, trans_b):
    for M, Nc, K in SHAPES + [(128, 256, 784), (64, 10, 128), (200, 4, 33)]:
        A, B, expected = _operands64(M, Nc, K, trans_a, trans_b, seed=M * 1000 + Nc * 10 + K)
        C = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa)
        ref = _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa="reference")
        what = f"float64 {isa} M={M} Nc={Nc} K={K} trans_a={trans_a} trans_b={trans_b}"
        assert C.shape == (M, Nc) and C.dtype == np.float64, what
        _assert_close64(C, expected, K, what + " vs numpy")
        _assert_close64(C, ref, K, what + " vs reference")
        into = np.ones((M, Nc))
        _core.gemm(A, B, trans_a=trans_a, trans_b=trans_b, isa=isa, into=into)
        _assert_close64(into - 1.0, expected, K, what + " accumulated")


def test_float64_training_gives_the_same_weights_on_one_and_two_threads(restore_threads):
    import fastmlp
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((500, 100)), rng.integers(0, 4, 500)
    weights = []
    for threads in (1, 2):
        _core.set_num_threads(threads)
        model = fastmlp.MLP([100, 96, 40, 4], seed=0, dtype="float64")
        model.fit(X, y, epochs=2, batch_size=64, optimizer="adam", learning_rate=0.01, l2=1e-3)
        weights.append(np.array(model.params))
    np.testing.assert_array_equal(weights[0], weights[1])
