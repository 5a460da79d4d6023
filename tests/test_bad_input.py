"""Bad input at every public entry of fastmlp.MLP and fastmlp.datasets.

Each case either works correctly (same answer as clean float32 input) or
raises an error that names what was expected and what came.
"""

import os

import numpy as np
import pytest

import fastmlp
from fastmlp import _core, datasets

N, FEATURES, CLASSES = 24, 3, 2


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, FEATURES)).astype(np.float32)
    y = np.arange(N) % CLASSES
    return X, y


def new_model(**kwargs):
    return fastmlp.MLP([FEATURES, 5, CLASSES], seed=0, **kwargs)


def fitted_model(data):
    return new_model().fit(*data, epochs=2, shuffle=False)


# Every entry that takes X: (name, call(model, X, y)).
ENTRIES = {
    "fit": lambda m, X, y: m.fit(X, y, epochs=1),
    "predict": lambda m, X, y: m.predict(X),
    "predict_proba": lambda m, X, y: m.predict_proba(X),
    "forward_all": lambda m, X, y: m.forward(X, return_all=True),
    "score": lambda m, X, y: m.score(X, y),
    "loss": lambda m, X, y: m.loss(X, y),
    "gradients": lambda m, X, y: m.gradients(X, y),
}


# --------------------------------------------------------------- X that must be refused

def _with(X, row, col, value):
    X = X.copy()
    X[row, col] = value
    return X


BAD_X = {
    "nan": (lambda X: _with(X, 3, 1, np.nan), r"finite numbers, got nan at row 3, column 1"),
    "inf": (lambda X: _with(X, 0, 2, np.inf), r"finite numbers, got inf at row 0, column 2"),
    "-inf float64": (lambda X: _with(X.astype(np.float64), 5, 0, -np.inf), r"got -inf at row 5"),
    "1-D": (lambda X: X[:, 0], r"must be a 2-D array .* got a 1-D array of shape \(24,\)"),
    "3-D": (lambda X: X[:, :, None], r"2-D array .* got a 3-D array of shape \(24, 3, 1\)"),
    "scalar": (lambda X: np.float32(1.0), r"got a 0-D array"),
    "no samples": (lambda X: X[:0], r"at least one sample .* got shape \(0, 3\)"),
    "no features": (lambda X: X[:, :0], r"one feature .* got shape \(24, 0\)"),
    "wrong feature count": (lambda X: X[:, :2], r"X has 2 features, but the model expects 3"),
    "complex": (lambda X: X.astype(np.complex64), r"real numbers .* got dtype complex64"),
    "strings": (lambda X: X.astype(str), r"real numbers .* got dtype <U"),
    "bytes": (lambda X: X.astype("S8"), r"real numbers .* got dtype \|S8"),
    "datetime": (lambda X: np.zeros(X.shape, "datetime64[s]"), r"got dtype datetime64"),
    "object with text": (lambda X: np.where(X > 0, "1.5", X).astype(object),
                         r"got dtype object containing str '1.5'"),
    "object with None": (lambda X: np.where(X > 0, None, X).astype(object), r"finite numbers, got nan"),
    "object with a list": (lambda X: np.array([[1.0, [2.0], 3.0]] * N, dtype=object),
                           r"does not convert to float"),
    "ragged list": (lambda X: [[1.0, 2.0, 3.0], [1.0]], r"rectangular array of numbers"),
    "beyond float32": (lambda X: _with(X.astype(np.float64), 2, 2, 1e39),
                       r"magnitude 1e\+39, beyond the float32 range"),
}


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_is_refused_with_a_clear_error(data, entry, case):
    make_bad, message = BAD_X[case]
    model = fitted_model(data)
    before = np.array(model.params)
    with pytest.raises(ValueError, match=message):
        ENTRIES[entry](model, make_bad(data[0]), data[1])
    np.testing.assert_array_equal(model.params, before)


def test_sparse_X_is_read_as_sparse_rows(data):
    # Sparse input stays sparse (tests/test_sparse.py); the answer is the dense one.
    import scipy.sparse
    model = fitted_model(data)
    np.testing.assert_allclose(model.predict_proba(scipy.sparse.csr_matrix(data[0])),
                               model.predict_proba(data[0]), rtol=1e-6)


# --------------------------------------------------------------- X that must work

def _readonly_memmap(X, tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert not mapped.flags.writeable
    return mapped


WORKING_X = {
    "float64": lambda X, tmp: X.astype(np.float64),
    "float16 exact": lambda X, tmp: X.astype(np.float16),
    "int32": lambda X, tmp: np.round(X * 4).astype(np.int32),
    "int64": lambda X, tmp: np.round(X * 4).astype(np.int64),
    "uint8": lambda X, tmp: (np.abs(X) * 40).astype(np.uint8),
    "bool": lambda X, tmp: X > 0,
    "object numbers": lambda X, tmp: X.astype(object),
    "list of lists": lambda X, tmp: X.tolist(),
    "non-contiguous": lambda X, tmp: np.repeat(X, 2, axis=1)[:, ::2],
    "fortran order": lambda X, tmp: np.asfortranarray(X),
    "negative strides": lambda X, tmp: X[::-1][::-1],
    "read-only memmap": lambda X, tmp: _readonly_memmap(X, tmp),
    "read-only view": lambda X, tmp: np.lib.stride_tricks.as_strided(X, writeable=False),
}


def _as_float32_reference(X):
    """What the input means: its values in float32, C order."""
    return np.ascontiguousarray(np.asarray(X, dtype=np.float64), dtype=np.float32)


@pytest.mark.parametrize("case", list(WORKING_X))
def test_convertible_X_predicts_like_float32(data, tmp_path, case):
    X = WORKING_X[case](data[0], tmp_path)
    model = fitted_model(data)
    expected = model.predict_proba(_as_float32_reference(X))
    np.testing.assert_array_equal(model.predict_proba(X), expected)


@pytest.mark.parametrize("case", list(WORKING_X))
def test_convertible_X_trains_like_float32(data, tmp_path, case):
    X = WORKING_X[case](data[0], tmp_path)
    trained = new_model().fit(X, data[1], epochs=2)
    reference = new_model().fit(_as_float32_reference(X), data[1], epochs=2)
    np.testing.assert_array_equal(trained.params, reference.params)


def test_uint8_memmap_with_normalization(data, tmp_path):
    X8 = (np.abs(data[0]) * 40).astype(np.uint8)
    mapped = _readonly_memmap(np.asfortranarray(X8), tmp_path)
    trained = new_model(normalize="minmax").fit(mapped, data[1], epochs=2)
    reference = new_model(normalize="minmax").fit(X8, data[1], epochs=2)
    np.testing.assert_array_equal(trained.predict_proba(mapped), reference.predict_proba(X8))


# --------------------------------------------------------------- values near the float32 limit

def _all_ones_linear_model():
    """z = x1 + x2 + x3 for both outputs: float32.max inputs overflow to inf - inf."""
    model = fastmlp.MLP([FEATURES, CLASSES], seed=0)
    model.W[0][...] = 1.0
    model.b[0][...] = 0.0
    return model


FLOAT32_MAX = np.finfo(np.float32).max


def test_float32_extremes_at_predict_raise_instead_of_returning_garbage():
    X = np.array([[1, 2, 3], [FLOAT32_MAX, FLOAT32_MAX, 0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"output is NaN or infinite for 1 of 2 rows "
                                         r"\(first: row 1, whose largest input magnitude is 3.4e\+38\)"):
        _all_ones_linear_model().predict(X)


def test_large_float32_values_that_stay_finite_predict(data):
    X = np.full((2, FEATURES), FLOAT32_MAX / 8, dtype=np.float32)
    model = _all_ones_linear_model()
    np.testing.assert_array_equal(model.predict_proba(X), [[0.5, 0.5], [0.5, 0.5]])


def test_float32_extremes_in_training_stop_with_a_clear_error(data):
    X = np.full((N, FEATURES), FLOAT32_MAX, dtype=np.float32)
    model = _all_ones_linear_model()
    with pytest.raises(fastmlp.TrainingDivergedError, match="NaN or infinite .* scaling"):
        model.fit(X, data[1], epochs=1)
    np.testing.assert_array_equal(model.W[0], np.ones((FEATURES, CLASSES)))


def test_large_but_representable_values_work_with_normalization(data):
    X = data[0].astype(np.float64) * 1e30
    model = new_model(normalize="zscore").fit(X, data[1], epochs=2)
    assert np.all(np.isfinite(model.predict_proba(X)))


def test_tiny_subnormal_values_work(data):
    X = np.full((N, FEATURES), np.finfo(np.float32).smallest_subnormal, dtype=np.float32)
    model = new_model().fit(X, data[1], epochs=1)
    assert model.predict(X).shape == (N,)


# --------------------------------------------------------------- y and sample_weight

BAD_Y = {
    "nan": (lambda y: np.where(y > 0, np.nan, y), r"y must contain only finite numbers, got nan at index 1"),
    "inf": (lambda y: np.where(y > 0, np.inf, y), r"got inf at index 1"),
    "shorter": (lambda y: y[:5], r"X has 24 rows but y has 5"),
    "longer": (lambda y: np.concatenate([y, y]), r"X has 24 rows but y has 48"),
    "scalar": (lambda y: 1, r"y must be 1-D .* got a 0-D array"),
    "3-D": (lambda y: y[:, None, None], r"y must be 1-D .* got a 3-D array of shape \(24, 1, 1\)"),
    "strings": (lambda y: y.astype(str), r"y must hold real numbers .* got dtype <U"),
    "complex": (lambda y: y.astype(complex), r"got dtype complex128"),
    "object text": (lambda y: y.astype(str).astype(object), r"object containing str"),
    "out of range label": (lambda y: y + 1, r"class labels must be integers in \[0, 2\), got values in \[1, 2\]"),
    "fractional label": (lambda y: y + 0.5, r"class labels must be integers"),
    "one-hot wrong width": (lambda y: np.eye(3)[y], r"y must have shape \(24, 2\) for this model, got \(24, 3\)"),
}


@pytest.mark.parametrize("entry", ["fit", "loss", "gradients"])
@pytest.mark.parametrize("case", list(BAD_Y))
def test_bad_y_is_refused(data, entry, case):
    make_bad, message = BAD_Y[case]
    with pytest.raises(ValueError, match=message):
        ENTRIES[entry](fitted_model(data), data[0], make_bad(data[1]))


@pytest.mark.parametrize("case", ["shorter", "longer", "nan", "strings", "3-D"])
def test_score_checks_y(data, case):
    make_bad, message = BAD_Y[case]
    with pytest.raises(ValueError, match=message):
        fitted_model(data).score(data[0], make_bad(data[1]))


def test_regression_y_beyond_float32_is_refused(data):
    model = fastmlp.MLP([FEATURES, 1], output="identity", seed=0)
    with pytest.raises(ValueError, match="beyond the float32 range"):
        model.fit(data[0], np.full(N, 1e39), epochs=1)


@pytest.mark.parametrize("y_case", ["bool", "float labels", "object ints", "one-hot", "list"])
def test_convertible_y_trains_like_int_labels(data, y_case):
    X, y = data
    y_variant = {"bool": y.astype(bool), "float labels": y.astype(np.float64),
                 "object ints": y.astype(object), "one-hot": np.eye(CLASSES)[y],
                 "list": y.tolist()}[y_case]
    trained = new_model().fit(X, y_variant, epochs=2)
    reference = new_model().fit(X, y, epochs=2)
    np.testing.assert_array_equal(trained.params, reference.params)


@pytest.mark.parametrize("weights, message", [
    (np.full(N, np.nan), "sample_weight"),
    (np.full(N, -1.0), "non-negative"),
    (np.ones(N - 1), r"shape \(24,\), got shape \(23,\)"),
    (np.ones((N, 2)), r"shape \(24,\)"),
])
def test_bad_sample_weight(data, weights, message):
    with pytest.raises(ValueError, match=message):
        new_model().fit(*data, sample_weight=weights, epochs=1)


# --------------------------------------------------------------- arguments

@pytest.mark.parametrize("kwargs, message", [
    (dict(epochs=0), "epochs must be a positive integer, got 0"),
    (dict(epochs=True), "epochs must be a positive integer, got True"),
    (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
    (dict(batch_size=2.5), "batch_size must be a positive integer, got 2.5"),
    (dict(learning_rate=np.nan), "learning_rate must be a finite number >= 0, got nan"),
    (dict(learning_rate=0), "learning_rate must be > 0, got 0"),
    (dict(l2=-1.0), "l2 must be a finite number >= 0, got -1.0"),
    (dict(optimizer="rmsprop"), "unknown optimizer 'rmsprop'"),
])
def test_bad_fit_arguments(data, kwargs, message):
    with pytest.raises(ValueError, match=message):
        new_model().fit(*data, **kwargs)


@pytest.mark.parametrize("args, kwargs, error, message", [
    (([3],), {}, ValueError, r"at least \[n_inputs, n_outputs\]"),
    (([3, 0, 2],), {}, ValueError, "every layer size must be a positive integer, got 0"),
    (([3, 2.0],), {}, ValueError, "every layer size must be a positive integer, got 2.0"),
    (([3, 2],), dict(dtype="float16"), ValueError, "dtype must be float32 or float64"),
    (([3, 4, 2], "swish"), {}, ValueError, "unknown activation 'swish'"),
    (([3, 4, 2], 7), {}, TypeError, "activation must be a name or a sequence of names, got int"),
    (([3, 4, 2], ["relu", "relu"]), {}, ValueError, "expected 1 hidden activations"),
    (([3, 2],), dict(normalize="l2"), ValueError, "unknown normalize 'l2'"),
    (([3, 2],), dict(output="softmax", loss="perceptron"), ValueError, "does not go with"),
    (([2**40, 2**40],), {}, ValueError, "need more parameters than a network can address"),
])
def test_bad_constructor_arguments(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        fastmlp.MLP(*args, **kwargs)


@pytest.mark.skipif(bool(os.environ.get("FASTMLP_SANITIZED")),
                    reason="gcc's ASan aborts in operator new instead of throwing bad_alloc")
def test_network_too_large_for_memory_is_a_memory_error():
    with pytest.raises(MemoryError, match="not enough memory for a network of"):
        fastmlp.MLP([10**6, 10**6])


# --------------------------------------------------------------- the native boundary

def test_native_boundary_raises_python_exceptions(data):
    """C++ checks reach Python as Python exceptions, whatever the Python layer skips."""
    net = fitted_model(data)._net
    X = data[0]
    Y = np.eye(CLASSES, dtype=np.float32)[data[1]]
    order = np.arange(N, dtype=np.int64)
    with pytest.raises(TypeError, match="X must be a float32 array, got dtype float64"):
        net.predict(X.astype(np.float64))
    with pytest.raises(ValueError, match="X must have 3 columns, got shape"):
        net.predict(X[:, :2].copy())
    with pytest.raises(ValueError, match="X must be C-contiguous"):
        net.predict(np.asfortranarray(X))
    with pytest.raises(ValueError, match="X must be 2-D"):
        net.predict(X[0])
    with pytest.raises(ValueError, match=r"order holds row 24, outside \[0, 24\)"):
        net.train_epoch(X, Y, None, order + 1, 4)
    with pytest.raises(ValueError, match=r"order holds row -1"):
        net.train_epoch(X, Y, None, order - 1, 4)
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        net.train_epoch(X, Y, None, order, 0)
    with pytest.raises(ValueError, match="Y must have 24 rows"):
        net.train_epoch(X, Y[:3], None, order, 4)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        net.train_epoch(X, Y, None, order, 4, optimizer="lbfgs")
    with pytest.raises(ValueError, match="loss needs at least one row, got 0"):
        net.loss(X[:0], Y[:0])
    with pytest.raises(ValueError, match="sample_weight must have 24 rows"):
        net.loss(X, Y, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        _core.NetworkF32([3, 2], ["gelu"], "squared_error")
    with pytest.raises(ValueError, match="softmax is only available on the output layer"):
        _core.NetworkF32([3, 3, 2], ["softmax", "softmax"], "categorical_cross_entropy")


# --------------------------------------------------------------- datasets

@pytest.mark.parametrize("X, message", [
    (np.zeros((3, 4), np.float32), r"2-D uint8 array, got a 2-D float32 array"),
    (np.zeros(4, np.uint8), r"2-D uint8 array, got a 1-D uint8 array"),
    (np.zeros((2, 2, 2), np.uint8), r"got a 3-D uint8 array"),
    ("pixels", r"got a 0-D <U6 array"),
])
def test_to_float32_refuses_non_uint8(X, message):
    with pytest.raises(ValueError, match=message):
        datasets.to_float32(X)


def test_to_float32_refuses_wrong_length_scale():
    with pytest.raises(ValueError, match=r"scale must be a scalar or have shape \(4,\)"):
        datasets.to_float32(np.zeros((3, 4), np.uint8), scale=np.ones(3))


@pytest.mark.parametrize("layout", ["fortran", "strided", "memmap"])
def test_to_float32_reads_any_layout(tmp_path, layout):
    X = np.arange(60, dtype=np.uint8).reshape(6, 10)
    variant = {"fortran": np.asfortranarray(X), "strided": np.repeat(X, 2, axis=1)[:, ::2],
               "memmap": _readonly_memmap(X, tmp_path)}[layout]
    np.testing.assert_array_equal(datasets.to_float32(variant), datasets.to_float32(X))


@pytest.mark.parametrize("array", [np.zeros(3, complex), np.zeros(3, object), np.zeros(3, bool),
                                   np.zeros(3, np.uint64)])
def test_write_idx_refuses_types_idx_cannot_hold(tmp_path, array):
    with pytest.raises(ValueError, match=f"IDX cannot store dtype {array.dtype}"):
        datasets.write_idx(tmp_path / "x.idx", array)


def test_read_idx_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        datasets.read_idx(tmp_path / "missing.idx")


def test_read_idx_of_an_empty_file(tmp_path):
    (tmp_path / "empty.idx").write_bytes(b"")
    with pytest.raises(ValueError, match="expected 4 magic bytes, got 0"):
        datasets.read_idx(tmp_path / "empty.idx")
