"""The MLP estimators' `precision` parameter: the network's dtype fixed
whatever X's ('float32', 'float64'), or float32 weights trained with
bfloat16 products ('bfloat16'); None keeps scikit-learn's dtype rule."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

import fastmlp
from fastmlp import MLPClassifier, MLPRegressor, _core

needs_bf16 = pytest.mark.skipif(_core.bf16_unavailable() is not None,
                                reason=f"no bfloat16 kernels: {_core.bf16_unavailable()}")


@pytest.fixture
def restore_isa():
    original = _core.active_isa()
    yield
    _core.set_isa(original)


def data(n=400, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))  # float64
    y = (X[:, :3].sum(axis=1) > 0).astype(int) + (X[:, 3] > 0.5)
    return X, y


def classifier(**params):
    options = {"hidden_layer_sizes": (32, 16), "max_iter": 5, "batch_size": 50,
               "random_state": 0, "tol": 0.0, "n_iter_no_change": 99, "n_threads": 1}
    options.update(params)
    return MLPClassifier(**options)


pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def test_default_is_scikit_learns_dtype_rule():
    X, y = data()
    assert MLPClassifier().get_params()["precision"] is None
    assert MLPRegressor().get_params()["precision"] is None
    assert classifier().fit(X, y).coefs_[0].dtype == np.float64
    assert classifier().fit(X.astype(np.float32), y).coefs_[0].dtype == np.float32


def test_float32_trains_float64_rows_as_float32_rows_would():
    X, y = data()
    pinned = classifier(precision="float32").fit(X, y)
    same = classifier().fit(X.astype(np.float32), y)
    for ours, theirs in zip(pinned.coefs_ + pinned.intercepts_, same.coefs_ + same.intercepts_):
        assert ours.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)
    assert pinned.loss_curve_ == same.loss_curve_
    # outputs follow scikit-learn's rule: float32 only when X is float32 too
    assert pinned.predict_proba(X).dtype == np.float64
    assert pinned.predict_proba(X.astype(np.float32)).dtype == np.float32
    np.testing.assert_array_equal(pinned.predict(X), same.predict(X))


def test_float64_trains_float32_rows_in_float64():
    X, y = data()
    X32 = X.astype(np.float32)
    pinned = MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=1, precision="float64",
                          n_threads=1).fit(X32, X[:, 0])
    same = MLPRegressor(hidden_layer_sizes=(16,), max_iter=3, random_state=1, n_threads=1).fit(
        X32.astype(np.float64), X[:, 0])
    assert pinned.coefs_[0].dtype == np.float64
    np.testing.assert_array_equal(pinned.coefs_[0], same.coefs_[0])
    assert pinned.predict(X32).dtype == np.float64


@needs_bf16
def test_bfloat16_rounds_the_products_and_learns_as_well():
    X, y = data()
    b16 = classifier(precision="bfloat16", learning_rate_init=0.01).fit(X, y)
    f32 = classifier(precision="float32", learning_rate_init=0.01).fit(X, y)
    assert b16.coefs_[0].dtype == np.float32
    assert not np.array_equal(b16.coefs_[0], f32.coefs_[0])  # the products were rounded
    for ours, theirs in zip(b16.coefs_, f32.coefs_):
        assert np.linalg.norm(ours - theirs) < 0.05 * np.linalg.norm(theirs)
    assert b16.loss_curve_[-1] < 0.6 * b16.loss_curve_[0]
    assert abs(b16.loss_curve_[-1] - f32.loss_curve_[-1]) < 0.05 * f32.loss_curve_[-1]
    assert abs(b16.score(X, y) - f32.score(X, y)) < 0.03
    # prediction and later calls are float32 again
    assert b16._model._net.bf16_products is False


@needs_bf16
def test_bfloat16_is_the_same_on_any_thread_count():
    X, y = data()
    one = classifier(precision="bfloat16", n_threads=1).fit(X, y)
    two = classifier(precision="bfloat16", n_threads=2).fit(X, y)
    for a, b in zip(one.coefs_, two.coefs_):
        np.testing.assert_array_equal(a, b)


@needs_bf16
def test_bfloat16_partial_fit_and_early_stopping():
    X, y = data()
    model = classifier(precision="bfloat16", solver="sgd")
    model.partial_fit(X, y, classes=[0, 1, 2])
    model.partial_fit(X, y)
    assert model.coefs_[0].dtype == np.float32 and len(model.loss_curve_) == 2
    stopped = classifier(precision="bfloat16", early_stopping=True).fit(X, y)
    assert len(stopped.validation_scores_) == stopped.n_iter_


def test_changing_precision_between_warm_fits_converts_the_weights():
    X, y = data()
    model = classifier(warm_start=True).fit(X, y)
    assert model.coefs_[0].dtype == np.float64
    before = [w.copy() for w in model.coefs_]
    model.set_params(precision="float32", max_iter=1)
    model.fit(X, y)
    assert all(w.dtype == np.float32 for w in model.coefs_ + model.intercepts_)
    # it went on from the float64 weights (rounded), not from a fresh start
    assert np.abs(model.coefs_[0] - before[0]).max() < 0.1
    assert not np.array_equal(model.coefs_[0], before[0].astype(np.float32))


def test_bfloat16_with_lbfgs_is_refused():
    X, y = data()
    with pytest.raises(ValueError, match=r"precision='bfloat16' needs a stochastic solver "
                                         r"\('sgd' or 'adam'\)"):
        classifier(precision="bfloat16", solver="lbfgs").fit(X, y)


@pytest.mark.parametrize("bad", ["float16", "bf16", 32, np.float32])
def test_unknown_precision_gets_scikit_learns_parameter_error(bad):
    X, y = data()
    with pytest.raises(InvalidParameterError, match=r"The 'precision' parameter of "
                                                    r"MLPClassifier must be"):
        classifier(precision=bad).fit(X, y)


@pytest.mark.skipif("avx2" not in _core.supported_isas(), reason="needs an x86 CPU with AVX2")
def test_bfloat16_where_the_cpu_cannot_is_a_clear_error_before_training(restore_isa):
    X, y = data()
    model = classifier(warm_start=True, precision="float32").fit(X, y)
    before = [w.copy() for w in model.coefs_]
    _core.set_isa("avx2")
    model.set_params(precision="bfloat16")
    with pytest.raises(ValueError, match=r"precision='bfloat16' is not available here: .*"
                                         r"AVX512_BF16.*active instruction set: avx2"):
        model.fit(X, y)
    for w, b in zip(model.coefs_, before):
        np.testing.assert_array_equal(w, b)


def test_precision_survives_clone_pickle_and_model_files(tmp_path):
    X, y = data()
    model = classifier(precision="float32").fit(X, y)
    assert clone(model).get_params()["precision"] == "float32"
    again = pickle.loads(pickle.dumps(model))
    assert again.precision == "float32"
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    path = tmp_path / "model.fastmlp"
    fastmlp.save(model, path)
    loaded = fastmlp.load(path)
    assert loaded.precision == "float32" and loaded.coefs_[0].dtype == np.float32
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
