"""Prediction's fast path: C-contiguous float32 / float64 ndarrays skip the
general checks (`_validation.plain_rows`); everything else takes them.

Both paths must give the same answers and the same errors: every bad input
is tried as a C-contiguous array (the fast path's own checks send it to the
general path) and as a list or a Fortran-ordered array (the general path
from the start).
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

import fastmlp


def data(n=60, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)


def fitted_models():
    X, y = data()
    # float32 weights, so that a float64 value beyond float32's range is bad input
    X32 = X.astype(np.float32)
    return {
        "MLP": fastmlp.MLP([5, 8, 3], seed=0).fit(X, y, epochs=2),
        "MLPClassifier": fastmlp.MLPClassifier((8,), max_iter=3, random_state=0).fit(X32, y),
        "MLPRegressor": fastmlp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=3,
                                             random_state=0).fit(X32, X[:, 0]),
        "LogisticRegression": fastmlp.LogisticRegression(max_iter=20).fit(X32, y),
        "Perceptron": fastmlp.Perceptron(max_iter=3).fit(X32, y),
    }


@pytest.fixture(scope="module")
def models():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fitted_models()


def predictions(model, X):
    out = {"predict": model.predict(X)}
    if hasattr(model, "predict_proba"):
        out["predict_proba"] = model.predict_proba(X)
    return out


@pytest.mark.parametrize("name", ["MLP", "MLPClassifier", "MLPRegressor", "LogisticRegression",
                                  "Perceptron"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows", [1, 7])
def test_the_fast_path_gives_what_the_general_path_gives(models, name, dtype, rows):
    X = np.ascontiguousarray(data(seed=1)[0][:rows], dtype=dtype)
    fast = predictions(models[name], X)
    for general in (np.asfortranarray(X), X.tolist()):
        slow = predictions(models[name], general)
        for key in fast:
            np.testing.assert_array_equal(fast[key], slow[key])
            if not isinstance(general, list):  # a list is float64 data, and a regressor says so
                assert fast[key].dtype == slow[key].dtype


def bad_inputs():
    row = data(seed=2)[0][:2]
    nan, inf, huge = row.copy(), row.copy(), row.copy()
    nan[1, 3] = np.nan
    inf[0, 0] = -np.inf
    huge[0, 2] = 1e39   # finite in float64, beyond float32
    return {"NaN": nan, "infinity": inf, "beyond float32": huge,
            "4 features": row[:, :4], "6 features": np.hstack([row, row[:, :1]]),
            "no rows": row[:0]}


@pytest.mark.parametrize("name", ["MLP", "MLPClassifier", "MLPRegressor", "LogisticRegression",
                                  "Perceptron"])
@pytest.mark.parametrize("case", list(bad_inputs()))
def test_bad_input_gets_the_same_error_on_both_paths(models, name, case):
    X = bad_inputs()[case]
    model = models[name]
    errors = []
    for variant in (np.ascontiguousarray(X), np.asfortranarray(X), X.tolist()):
        if case == "no rows" and isinstance(variant, list):
            variant = np.empty((0, 5), order="F")  # a list of no rows has no columns
        # (float64 beyond float32's range: the estimators' conversion warns of the overflow)
        with pytest.raises((ValueError, TypeError, RuntimeWarning)) as caught:
            model.predict(variant)
        errors.append((type(caught.value), str(caught.value)))
    assert errors[0] == errors[1], errors
    if case not in ("no rows",):
        assert errors[0] == errors[2], errors
    if name == "MLP" and case == "beyond float32":
        assert re.search("beyond the float32 range", errors[0][1]), errors[0]


def plain_rows_twin(X, n_features):
    """The fast path's rule written out in numpy: the oracle of `_core.plain_rows`."""
    if (type(X) is not np.ndarray or X.ndim != 2 or X.dtype not in (np.dtype(np.float32),
                                                                    np.dtype(np.float64))
            or not X.flags.c_contiguous or X.shape[0] < 1 or X.shape[1] != n_features):
        return False
    return bool(np.all(np.abs(X.astype(np.float64)) <= np.finfo(np.float32).max))


class SubclassedArray(np.ndarray):
    """A subclass may change what indexing and arithmetic mean: the general path takes it."""


def plain_rows_cases():
    rng = np.random.default_rng(3)
    base = rng.normal(size=(4, 5))
    cases = {}
    for dtype in (np.float32, np.float64):
        X = base.astype(dtype)
        cases[f"{dtype.__name__}"] = X
        for where, value in (("NaN", np.nan), ("inf", np.inf), ("-inf", -np.inf)):
            bad = X.copy()
            bad[2, 4] = value
            cases[f"{dtype.__name__} {where}"] = bad
        cases[f"{dtype.__name__} Fortran"] = np.asfortranarray(X)
        cases[f"{dtype.__name__} strided"] = X[:, ::1][::2]
        cases[f"{dtype.__name__} column view"] = X[:, :4]
        cases[f"{dtype.__name__} big-endian"] = X.astype(np.dtype(dtype).newbyteorder(">"))
        cases[f"{dtype.__name__} no rows"] = X[:0]
        cases[f"{dtype.__name__} 1-D"] = X[0]
        cases[f"{dtype.__name__} subclass"] = X.view(SubclassedArray)
    huge = base.copy()
    huge[0, 0] = 1e39
    cases["float64 beyond float32"] = huge
    cases["float64 at float32's max"] = np.full((1, 5), float(np.finfo(np.float32).max))
    cases["float16"] = base.astype(np.float16)
    cases["int64"] = np.ones((2, 5), dtype=np.int64)
    cases["list"] = base.tolist()
    return cases


@pytest.mark.parametrize("case", list(plain_rows_cases()))
def test_native_plain_rows_matches_its_numpy_twin(case):
    from fastmlp import _core

    X = plain_rows_cases()[case]
    assert _core.plain_rows(X, 5) == plain_rows_twin(X, 5)
    assert _core.plain_rows(X, 4) == plain_rows_twin(X, 4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_native_all_finite_matches_numpy(dtype):
    from fastmlp import _core

    values = np.linspace(-3, 3, 37, dtype=dtype).reshape(1, 37)
    assert _core.all_finite(values)
    for position in (0, 17, 36):
        for bad in (np.nan, np.inf, -np.inf):
            broken = values.copy()
            broken[0, position] = bad
            assert not _core.all_finite(broken)
    assert _core.all_finite(np.empty((0, 3), dtype=dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_predict_plain_is_predict_or_none(dtype):
    # MLP.forward's one-call fast path: the native output for plain rows of
    # the network's dtype, None for everything the general path must see.
    model = fastmlp.MLP([5, 8, 3], seed=0, dtype=dtype)
    X = np.ascontiguousarray(data(seed=4)[0][:6], dtype=dtype)
    np.testing.assert_array_equal(model._net.predict_plain(X), model._net.predict(X))
    other = np.float64 if dtype == np.float32 else np.float32
    for not_plain in (X.astype(other), np.asfortranarray(X), X.tolist(), X[:, :4], X[:0]):
        assert model._net.predict_plain(not_plain) is None
    bad = X.copy()
    bad[1, 2] = np.nan
    assert model._net.predict_plain(bad) is None
    # finite rows whose output overflows: None here, the general path's error in forward
    model.W[0][...] = np.finfo(dtype).max / 2
    huge = np.full((1, 5), 10.0, dtype=dtype)   # the first layer's z overflows to inf
    assert model._net.predict_plain(huge) is None
    with pytest.raises(ValueError, match="output is NaN or infinite"):
        model.predict_proba(huge)


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_estimator_fast_path_sees_replaced_weights_and_returns_non_finite_output(name):
    # The estimators' one-call path (MLP.output_plain) must not skip what the
    # general path does: coefs_ the user replaced reach the network first, and
    # a non-finite output is returned as scikit-learn returns it, not raised.
    X, y = data()
    X32 = X.astype(np.float32)
    est = (fastmlp.MLPClassifier((8,), max_iter=3, random_state=0) if name == "MLPClassifier"
           else fastmlp.MLPRegressor(hidden_layer_sizes=(8,), max_iter=3, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X32, y if name == "MLPClassifier" else X[:, 0])
    rows = np.ascontiguousarray(X32[:4])
    predict = est.predict_proba if name == "MLPClassifier" else est.predict
    before = predict(rows)
    # a replaced list element and a replaced list both reach the network
    est.coefs_[1] = np.zeros_like(est.coefs_[1])
    after = predict(rows)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, predict(np.asfortranarray(rows)))
    est.coefs_ = [c * 2 for c in est.coefs_]
    np.testing.assert_array_equal(predict(rows), predict(rows.tolist()))
    # weights that overflow: the fast path declines, the general path returns the non-finite values
    est.coefs_[0][...] = np.finfo(np.float32).max
    out = predict(np.full((1, 5), 10.0, dtype=np.float32))
    assert not np.all(np.isfinite(out))
