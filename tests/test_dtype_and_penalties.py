"""Training in the input's dtype, the Perceptron's penalties and rule, and
LogisticRegression's float64 solution, against scikit-learn and numpy."""

import warnings

import numpy as np
import pytest
import sklearn.linear_model as sk
from sklearn.datasets import load_breast_cancer, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastmlp
from fastmlp import _core

ESTIMATORS = [
    lambda: fastmlp.MLPClassifier((5,), max_iter=5, random_state=0),
    lambda: fastmlp.MLPRegressor(hidden_layer_sizes=(5,), max_iter=5, random_state=0),
    lambda: fastmlp.LogisticRegression(max_iter=20),
    lambda: fastmlp.Perceptron(max_iter=5),
]


def _iris():
    X, y = load_iris(return_X_y=True)
    return X, y


def _weights(est):
    return [*est.coefs_, *est.intercepts_] if hasattr(est, "coefs_") else [est.coef_,
                                                                           est.intercept_]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("make", ESTIMATORS)
@pytest.mark.parametrize("dtype, trained", [(np.float32, np.float32), (np.float64, np.float64),
                                            (np.int64, np.float64)])
def test_weights_and_outputs_take_the_inputs_dtype(make, dtype, trained):
    X, y = _iris()
    est = make()
    target = y.astype(float) if isinstance(est, fastmlp.MLPRegressor) else y
    est.fit((X * 10).astype(dtype), target)
    assert all(w.dtype == trained for w in _weights(est))
    for method in ("predict_proba", "decision_function"):
        if hasattr(est, method):
            assert getattr(est, method)(X.astype(np.float32)).dtype == trained
            assert getattr(est, method)(X).dtype == np.float64
    if isinstance(est, fastmlp.MLPRegressor):
        assert est.predict(X.astype(np.float32)).dtype == trained


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_later_calls_in_another_dtype_follow_scikit_learn():
    X, y = _iris()
    # the MLPs keep the weights' dtype
    mlp = fastmlp.MLPClassifier((5,), max_iter=3, random_state=0, warm_start=True)
    mlp.fit(X.astype(np.float32), y).fit(X, y)
    assert mlp.coefs_[0].dtype == np.float32
    mlp.partial_fit(X, y)
    assert mlp.coefs_[0].dtype == np.float32
    # the linear models' warm start goes on in the new dtype, from the same weights
    for est in (fastmlp.LogisticRegression(max_iter=5, warm_start=True),
                fastmlp.Perceptron(max_iter=3, warm_start=True)):
        est.fit(X.astype(np.float32), y)
        before = est.coef_.copy()
        est.set_params(max_iter=1)
        est.fit(X, y)
        assert est.coef_.dtype == np.float64
        assert not np.array_equal(est.coef_, before) or isinstance(est, fastmlp.Perceptron)
    # the Perceptron's partial_fit refuses to mix (scikit-learn's raises a TypeError too)
    p = fastmlp.Perceptron().partial_fit(X.astype(np.float32), y, classes=np.unique(y))
    with pytest.raises(TypeError, match="partial_fit got float64 X, but this Perceptron's "
                                        "weights are float32"):
        p.partial_fit(X, y)


def _sgd_reference(X, s, epochs, eta, alpha, l1_ratio, penalty):
    """scikit-learn's per-sample SGD on the perceptron loss, written out in numpy."""
    w, b, u, q = np.zeros(X.shape[1]), 0.0, 0.0, np.zeros(X.shape[1])
    l1_ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    for _ in range(epochs):
        for x, target in zip(X, s):
            wrong = target * (x @ w + b) <= 0
            if penalty is not None:
                w = w * max(0.0, 1 - (1 - l1_ratio) * eta * alpha)
            if wrong:
                w = w + eta * target * x
                b += eta * target
            if penalty in ("l1", "elasticnet"):
                u += l1_ratio * eta * alpha
                z = w.copy()
                w = np.where(z > 0, np.maximum(0, z - (u + q)),
                             np.where(z < 0, np.minimum(0, z + (u - q)), z))
                q += w - z
    return w, b


@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_perceptron_is_scikit_learns_sgd_rule(penalty):
    X, y = _iris()
    X = StandardScaler().fit_transform(X)
    s = np.where(y == 1, 1.0, -1.0)
    kw = dict(penalty=penalty, alpha=0.01, l1_ratio=0.4, eta0=0.5, max_iter=6, tol=None,
              shuffle=False)
    ours = fastmlp.Perceptron(**kw).fit(X, s)
    w, b = _sgd_reference(X, s, 6, 0.5, 0.01, 0.4, penalty)
    np.testing.assert_allclose(ours.coef_.ravel(), w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, [b], rtol=1e-12, atol=1e-12)
    theirs = sk.Perceptron(**kw).fit(X, s)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-12, atol=1e-12)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_perceptron_stops_where_scikit_learns_does(penalty, classes):
    # multiclass: one binary fit per class, each stopping on its own objective;
    # with an L1 share, the objective's norms are kept as scikit-learn keeps them
    X, y = _iris()
    s = np.where(y == 1, 1, -1) if classes == 2 else y
    kw = dict(penalty=penalty, alpha=0.01, max_iter=40, shuffle=False, tol=1e-3)
    ours, theirs = fastmlp.Perceptron(**kw).fit(X, s), sk.Perceptron(**kw).fit(X, s)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("tol", [None, 1e-3])
@pytest.mark.parametrize("penalty", [None, "l2", "l1", "elasticnet"])
def test_perceptron_on_sparse_rows_is_scikit_learns(penalty, tol, classes):
    # scikit-learn's SGD scales every intercept step by 0.01 on sparse rows
    # (SPARSE_INTERCEPT_DECAY) and truncates (L1) only the weights of a
    # sample's stored features; dense rows take full steps on every weight.
    import scipy.sparse

    rng = np.random.default_rng(8)
    X = rng.normal(size=(80, 30))
    X[rng.random(X.shape) < 0.7] = 0
    y = rng.integers(0, classes, 80)
    kw = dict(penalty=penalty, alpha=0.01, max_iter=8, tol=tol, shuffle=False)
    for rows in (scipy.sparse.csr_matrix(X), X):
        ours, theirs = fastmlp.Perceptron(**kw).fit(rows, y), sk.Perceptron(**kw).fit(rows, y)
        assert ours.n_iter_ == theirs.n_iter_
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=1e-12, atol=1e-12)
    # the damped intercept really is another model than the dense rows' one
    sparse_fit = fastmlp.Perceptron(**kw).fit(scipy.sparse.csr_matrix(X), y)
    assert np.max(np.abs(sparse_fit.intercept_ - ours.intercept_)) > 1e-3


def test_intercept_decay_scales_the_bias_steps_and_is_reset_after_the_fit():
    net = _core.NetworkF64([2, 1], ["identity"], "squared_error", 0.01)
    net.params[...] = [0.0, 0.0, 0.0]
    X, Y, order = np.array([[1.0, 2.0]]), np.array([[1.0]]), np.zeros(1, dtype=np.int64)
    net.intercept_decay = 0.25
    net.train_epoch(X, Y, None, order, 1, "sgd", 0.1, 0.0, 0.9, 0.999, 1e-8, 0.0)
    # squared error's delta at z = 0 is -1: W moves by 0.1 x, b by 0.1 x 0.25
    np.testing.assert_allclose(net.params, [0.1, 0.2, 0.025], rtol=1e-14)
    with pytest.raises(ValueError, match=r"intercept_decay must be in \(0, 1\], got 0"):
        net.intercept_decay = 0.0
    model = fastmlp.Perceptron(max_iter=2, tol=None)
    import scipy.sparse
    model.fit(scipy.sparse.csr_matrix(np.eye(4)), [0, 1, 0, 1])
    assert model._model._net.intercept_decay == 1.0


def test_l1_step_is_the_cumulative_penalty_and_leaves_biases_alone():
    net = _core.NetworkF64([3, 1], ["step"], "perceptron_hinge", 0.01)
    net.params[...] = [0.5, -0.2, 0.001, 0.3]  # W (3), b
    X = np.zeros((1, 3))  # no data update: only the penalty moves the weights
    Y = np.ones((1, 1))
    net.l1 = 0.1
    order = np.zeros(1, dtype=np.int64)
    for _ in range(2):
        net.train_epoch(X, Y, None, order, 1, "sgd", 0.5, 0.0, 0.9, 0.999, 1e-8, 0.0)
    # u = 0.05, then 0.1: 0.5 -> 0.45 -> 0.4, -0.2 -> -0.15 -> -0.1, 0.001 -> 0 (stays)
    np.testing.assert_allclose(net.params[:3], [0.4, -0.1, 0.0], atol=1e-15)
    assert net.params[3] == 0.3  # s z = 0.3 > 0: right, and the bias has no penalty
    net.reset_optimizer()  # a fresh fit owes nothing yet
    net.l1 = 0.0
    before = np.array(net.params)
    net.train_epoch(X, Y, None, order, 1, "sgd", 0.5, 0.0, 0.9, 0.999, 1e-8, 0.0)
    np.testing.assert_array_equal(net.params[:3], before[:3])


def test_l1_ratio_has_scikit_learns_meaning():
    X, y = _iris()
    def coef(**kw):
        return fastmlp.Perceptron(max_iter=20, shuffle=False, tol=None, **kw).fit(X, y).coef_
    np.testing.assert_array_equal(coef(penalty="l1"), coef(penalty="elasticnet", l1_ratio=1))
    np.testing.assert_array_equal(coef(penalty="l2"), coef(penalty="elasticnet", l1_ratio=0))
    assert not np.array_equal(coef(penalty="elasticnet", l1_ratio=0.5), coef(penalty="l2"))


def test_step_mlp_keeps_the_lecture_rule():
    # MLP(output='step'): h(0) = 1, so a class-1 row at z = 0 is right and nothing moves
    model = fastmlp.MLP([2, 1], output="step", dtype="float64", seed=0)
    model.params[...] = 0
    model.fit(np.array([[1.0, 2.0]]), np.array([1]), epochs=1, batch_size=1,
              optimizer="sgd", learning_rate=1.0)
    assert np.all(model.params == 0)


@pytest.mark.parametrize("load", [load_breast_cancer, load_iris, load_digits])
def test_logistic_regression_matches_scikit_learns_lbfgs(load):
    X, y = load(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    kw = dict(C=0.5, tol=1e-10, max_iter=5000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = fastmlp.LogisticRegression(**kw).fit(X, y)
        theirs = sk.LogisticRegression(**kw).fit(X, y)
    scale = np.max(np.abs(theirs.coef_))
    assert np.max(np.abs(ours.coef_ - theirs.coef_)) <= 1e-6 * scale
    assert np.max(np.abs(ours.intercept_ - theirs.intercept_)) <= 1e-6 * scale


def test_logistic_regression_with_l1_gives_scikit_learns_error():
    X, y = _iris()
    with pytest.raises(ValueError, match="supports only 'l2' or None penalties, got l1"):
        fastmlp.LogisticRegression(l1_ratio=1).fit(X, y)
