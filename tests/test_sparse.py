"""Sparse input kept sparse: the first layer's CSR kernels, MLP and the estimators on
CSR / CSC / COO matrices, bad sparse input, and the memory a wide sparse fit needs."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

import fastmlp
from fastmlp import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, _core

pytestmark = pytest.mark.usefixtures("quiet_one_thread")


def random_csr(rows, cols, density, dtype, seed=0):
    X = sp.random(rows, cols, density=density, format="csr", dtype=dtype,
                  random_state=np.random.default_rng(seed))
    X.data = (X.data * 4 - 2).astype(dtype)   # both signs
    return X


def int64_csr(X):
    out = X.tocsr().copy()
    out.indices = out.indices.astype(np.int64)
    out.indptr = out.indptr.astype(np.int64)
    return out


# ------------------------------------------------------------------ kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, cols, width", [(1, 1, 1), (7, 50, 1), (33, 300, 45),
                                               (64, 1000, 64), (5, 20, 100)])
def test_sparse_kernels_match_their_reference_twins_and_the_dense_products(dtype, rows, cols,
                                                                           width):
    rng = np.random.default_rng(1)
    X = random_csr(rows, cols, 0.1, dtype).tolil()
    X[0, cols - 1] = 1.5       # the last column, and (below) an empty row
    if rows > 2:
        X[2, :] = 0
    X = int64_csr(X.tocsr())
    X.eliminate_zeros()
    W = rng.standard_normal((cols, width)).astype(dtype)
    delta = rng.standard_normal((rows, width)).astype(dtype)
    out, dW = _core.sparse_products(X, W, delta)
    ref_out, ref_dW = _core.sparse_products(X, W, delta, reference=True)
    # the same sums in the same order: equal to rounding of the last bit at most
    tight = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(out, ref_out, rtol=tight, atol=tight)
    np.testing.assert_allclose(dW, ref_dW, rtol=tight, atol=tight)
    dense = X.toarray().astype(np.float64)
    loose = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out, dense @ W, rtol=loose, atol=loose)
    np.testing.assert_allclose(dW, dense.T @ delta, rtol=loose, atol=loose)


def test_sparse_kernels_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(2)
    X = int64_csr(random_csr(500, 3000, 0.02, np.float32))
    W = rng.standard_normal((3000, 96)).astype(np.float32)
    delta = rng.standard_normal((500, 96)).astype(np.float32)
    results = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        results.append(_core.sparse_products(X, W, delta))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ MLP
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_csr_fit_and_a_dense_fit_agree_to_float_rounding(dtype):
    X = random_csr(400, 1500, 0.01, dtype)
    y = np.random.default_rng(3).integers(0, 4, 400)
    fits = []
    for rows in (X, X.toarray()):
        model = fastmlp.MLP([1500, 24, 4], seed=0, dtype=dtype)
        model.fit(rows, y, epochs=3, batch_size=16, optimizer="adam", learning_rate=0.01, l2=1e-3)
        fits.append(model)
    sparse_fit, dense_fit = fits
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sparse_fit.params, dense_fit.params, rtol=tol, atol=tol)
    np.testing.assert_allclose(sparse_fit.history["loss"], dense_fit.history["loss"], rtol=tol)
    np.testing.assert_allclose(sparse_fit.predict_proba(X), dense_fit.predict_proba(X.toarray()),
                               rtol=tol, atol=tol)
    assert sparse_fit.loss(X, y) == pytest.approx(dense_fit.loss(X.toarray(), y), rel=tol)


def test_sparse_training_gives_the_same_weights_on_one_and_two_threads():
    X = random_csr(300, 2000, 0.02, np.float32)
    y = np.random.default_rng(4).integers(0, 3, 300)
    weights = []
    for threads in (1, 2):
        fastmlp.set_num_threads(threads)
        model = fastmlp.MLP([2000, 64, 3], seed=0)
        model.fit(X, y, epochs=2, batch_size=64, optimizer="adam", learning_rate=0.01)
        weights.append(np.array(model.params))
    np.testing.assert_array_equal(weights[0], weights[1])


def test_sparse_gradients_equal_the_dense_ones_in_float64():
    # The dense gradients are checked against finite differences in test_gradients.py.
    X = random_csr(40, 120, 0.05, np.float64)
    y = np.random.default_rng(5).integers(0, 3, 40)
    model = fastmlp.MLP([120, 9, 3], activation="tanh", seed=1, dtype="float64")
    loss_s, dW_s, db_s = model.gradients(X, y, l2=0.1)
    loss_d, dW_d, db_d = model.gradients(X.toarray(), y, l2=0.1)
    assert loss_s == pytest.approx(loss_d, rel=1e-13)
    for a, b in zip(dW_s + db_s, dW_d + db_d):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_every_sparse_format_and_unsorted_duplicate_entries_give_the_same_model():
    X = random_csr(200, 300, 0.03, np.float32)
    y = np.random.default_rng(6).integers(0, 2, 200)
    # the same matrix with each row's columns in reverse order and row 0's
    # first entry stored twice, half its value each time
    indices, data = X.indices.copy(), X.data.copy()
    for r in range(X.shape[0]):
        a, b = X.indptr[r], X.indptr[r + 1]
        indices[a:b], data[a:b] = indices[a:b][::-1], data[a:b][::-1]
    data[0] *= 0.5
    indices, data = np.insert(indices, 0, indices[0]), np.insert(data, 0, data[0])
    indptr = X.indptr.copy()
    indptr[1:] += 1
    messy = sp.csr_matrix((data, indices, indptr), shape=X.shape)
    assert not messy.has_canonical_format
    before = (messy.indices.copy(), messy.data.copy(), messy.indptr.copy())
    predictions = []
    for rows_in in (X, X.tocsc(), X.tocoo(), sp.csr_array(X), messy, X.toarray()):
        model = fastmlp.MLP([300, 8, 1], output="sigmoid", seed=0)
        model.fit(rows_in, y, epochs=2, batch_size=20)
        predictions.append(model.predict_proba(X))
    for p in predictions[1:]:
        np.testing.assert_allclose(p, predictions[0], rtol=1e-5, atol=1e-6)
    for kept, now in zip(before, (messy.indices, messy.data, messy.indptr)):
        np.testing.assert_array_equal(kept, now)   # the caller's matrix is untouched


def test_integer_and_boolean_sparse_input_trains_in_float64_like_scikit_learn():
    X = (random_csr(100, 50, 0.1, np.float64) > 0).astype(np.int64)
    y = np.random.default_rng(7).integers(0, 2, 100)
    model = fastmlp.MLP([50, 1], output="sigmoid", seed=0)
    model.fit(X, y, epochs=1)
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(X.toarray()),
                               rtol=1e-6)


# ------------------------------------------------------------------ estimators
ESTIMATORS = [
    MLPClassifier((16,), max_iter=4, random_state=0),
    MLPClassifier((16,), solver="lbfgs", max_iter=10, random_state=0),
    MLPClassifier((16,), max_iter=4, early_stopping=True, random_state=0),
    LogisticRegression(max_iter=30),
    # (with an intercept, scikit-learn's SGD damps its steps on sparse rows, and
    # so does fastmlp's Perceptron: tests/test_dtype_and_penalties.py)
    Perceptron(max_iter=4, fit_intercept=False),
]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: f"{type(e).__name__}-"
                         f"{getattr(e, 'solver', 'sgd')}-{getattr(e, 'early_stopping', False)}")
def test_estimators_on_sparse_rows_agree_with_dense_rows(estimator):
    X = random_csr(300, 500, 0.02, np.float64)
    y = np.random.default_rng(8).integers(0, 3, 300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_sparse = clone(estimator).fit(X, y)
        on_dense = clone(estimator).fit(X.toarray(), y)
    np.testing.assert_array_equal(on_sparse.predict(X.tocsc()), on_dense.predict(X.toarray()))
    def weights(fitted):
        return fitted.coefs_ if hasattr(fitted, "coefs_") else [fitted.coef_]

    for a, b in zip(weights(on_sparse), weights(on_dense)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_mlp_regressor_on_sparse_rows():
    X = random_csr(200, 400, 0.02, np.float32)
    y = np.random.default_rng(9).standard_normal((200, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
        b = MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X.toarray(), y)
    np.testing.assert_allclose(a.predict(X), b.predict(X.toarray()), rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------ bad input
def test_a_non_numeric_sparse_matrix_is_refused_naming_its_dtype():
    X = random_csr(10, 5, 0.5, np.float64).astype(np.complex128)
    with pytest.raises(ValueError, match="real numbers.*sparse csr_matrix of dtype complex128"):
        fastmlp.MLP([5, 1], output="sigmoid").fit(X, np.zeros(10))


def test_a_non_finite_stored_value_is_refused_naming_its_place():
    X = sp.csr_matrix(np.array([[0, 1.0, 0], [0, 0, 2.0]]))
    X.data[1] = np.inf
    with pytest.raises(ValueError, match=r"finite numbers, got inf at row 1, column 2"):
        fastmlp.MLP([3, 1], output="sigmoid").fit(X, [0, 1])


@pytest.mark.parametrize("kind, statistic", [("zscore", "mean"), ("minmax", "minimum")])
def test_a_normalization_that_would_densify_is_refused(kind, statistic):
    X = random_csr(20, 10, 0.2, np.float32)
    with pytest.raises(ValueError, match=f"normalize='{kind}' subtracts each column's "
                                         f"{statistic}.*normalize=None"):
        fastmlp.MLP([10, 1], output="sigmoid", normalize=kind).fit(X, np.zeros(20))
    with pytest.raises(ValueError, match=f"normalize='{kind}'"):
        MLPClassifier((4,), normalize=kind).fit(X, np.arange(20) % 2)


def test_sparse_rows_of_the_wrong_width_are_refused():
    model = fastmlp.MLP([10, 1], output="sigmoid")
    with pytest.raises(ValueError, match="X has 9 features, but the model expects 10"):
        model.predict(random_csr(3, 9, 0.5, np.float32))


def test_the_native_boundary_refuses_a_malformed_csr_matrix():
    net = _core.NetworkF32([4, 2], ["identity"], "squared_error")
    X = int64_csr(sp.csr_matrix(np.eye(3, 4, dtype=np.float32)))
    X.indices[1] = 9
    with pytest.raises(ValueError, match=r"X.indices holds column 9, outside \[0, 4\)"):
        net.predict(X)
    X = int64_csr(sp.csr_matrix(np.eye(3, 4, dtype=np.float32)))
    X.indptr[1] = 3
    with pytest.raises(ValueError, match="X.indptr must not decrease"):
        net.predict(X)
    X = sp.csr_matrix(np.eye(3, 4, dtype=np.float32))   # int32 indices
    with pytest.raises(TypeError, match="X.indptr must be an int64 array, got int32"):
        net.predict(X)


# ------------------------------------------------------------------ memory
def test_a_wide_sparse_fit_needs_memory_for_the_weights_not_for_the_dense_matrix():
    # 20,000 x 200,000 at density 1e-4: 16 GB as a dense float32 array. The
    # model's 12.8 million first-layer weights, their gradient and Adam's two
    # moments take ~205 MB; the fit must stay under 300 MB more than it
    # started with (the benchmark reports the exact figure).
    script = textwrap.dedent("""
        import warnings
        import numpy as np, scipy.sparse as sp
        from fastmlp import MLPClassifier

        def field(name):
            for line in open("/proc/self/status"):
                if line.startswith(name):
                    return int(line.split()[1]) / 1024

        rng = np.random.default_rng(0)
        X = sp.random(20000, 200000, density=1e-4, format="csr", dtype=np.float32,
                      random_state=rng)
        y = rng.integers(0, 5, 20000)
        MLPClassifier((4,), max_iter=1).fit(X[:50], y[:50])   # imports, first allocations
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")   # the peak restarts from the current size
        start = field("VmRSS")
        warnings.simplefilter("ignore")
        model = MLPClassifier((64,), max_iter=1, random_state=0).fit(X, y)
        assert model.coefs_[0].shape == (200000, 64)
        print("GROWTH_MB", field("VmHWM") - start)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    growth = float(done.stdout.split("GROWTH_MB")[1])
    assert 150 < growth < 300, done.stdout
