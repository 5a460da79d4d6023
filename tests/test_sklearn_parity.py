"""The estimators against hand-worked numbers and against scikit-learn itself."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SkLogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from fastmlp import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron

FLOAT32_TOL = dict(rtol=1e-5, atol=1e-6)


pytestmark = pytest.mark.usefixtures("one_thread")


def test_hand_worked_sgd_step_3_2_1_logistic():
    """One SGD step of a 3-2-1 network with logistic units on one sample, by hand.

    x = (1, 2, -1), y = 1, learning rate 0.5, no L2.
    z1 = x W1 + b1 = (0.1 + 0.6 + 0.5 + 0.1, -0.2 + 0.8 - 0.2 - 0.1) = (1.3, 0.3)
    a1 = sigmoid(z1) = (0.7858349830, 0.5744425168)
    z2 = a1 W2 + b2 = 0.5 * 0.7858349830 - 0.3 * 0.5744425168 + 0.2 = 0.4205847365
    a2 = sigmoid(z2) = 0.6036231637,  loss = -log(a2) = 0.5048051769
    delta2 = a2 - y = -0.3963768363
    delta1 = delta2 W2^T * a1 (1 - a1) = (-0.0333547862, 0.0290692837)
    W2 -= 0.5 a1^T delta2 -> (0.6557433922, -0.1861521463);  b2 -> 0.3981884182
    W1 -= 0.5 x^T delta1, b1 -= 0.5 delta1
    """
    W1 = np.array([[0.1, -0.2], [0.3, 0.4], [-0.5, 0.2]])
    b1 = np.array([0.1, -0.1])
    W2 = np.array([[0.5], [-0.3]])
    b2 = np.array([0.2])
    x = np.array([[1.0, 2.0, -1.0]])

    est = MLPClassifier(hidden_layer_sizes=(2,), activation="logistic", solver="sgd",
                        learning_rate_init=0.5, momentum=0.0, alpha=0.0, max_iter=1,
                        shuffle=False, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(np.array([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), [0, 1])  # builds the 3-2-1 net
    est.coefs_ = [W1, W2]
    est.intercepts_ = [b1, b2]

    assert est.predict_proba(x)[0, 1] == pytest.approx(0.6036231637, abs=1e-6)
    zs, acts = est._model._net.forward_all(x)  # a float64 fit: float64 weights
    np.testing.assert_allclose(zs[0][0], [1.3, 0.3], atol=1e-6)
    np.testing.assert_allclose(acts[0][0], [0.7858349830, 0.5744425168], atol=1e-6)
    np.testing.assert_allclose(zs[1][0], [0.4205847365], atol=1e-6)
    np.testing.assert_allclose(acts[1][0], [0.6036231637], atol=1e-6)

    est.partial_fit(x, [1])
    assert est.loss_ == pytest.approx(0.5048051769, abs=1e-6)
    np.testing.assert_allclose(est.coefs_[1], [[0.6557433922], [-0.1861521463]], atol=1e-6)
    np.testing.assert_allclose(est.intercepts_[1], [0.3981884182], atol=1e-6)
    np.testing.assert_allclose(est.coefs_[0], [[0.1166773931, -0.2145346418],
                                               [0.3333547862, 0.3709307163],
                                               [-0.5166773931, 0.2145346418]], atol=1e-6)
    np.testing.assert_allclose(est.intercepts_[0], [0.1166773931, -0.1145346418], atol=1e-6)


def _targets(kind, rng, n):
    if kind == "binary":
        return rng.integers(0, 2, n)
    if kind == "multiclass":
        return rng.integers(0, 4, n)
    Y = rng.integers(0, 2, (n, 3))
    Y[0] = [1, 0, 1]  # every label seen both ways
    Y[1] = [0, 1, 0]
    return Y


def _one_full_batch_sgd_step(cls, X, y, weights, **params):
    est = cls(max_iter=1, solver="sgd", batch_size=X.shape[0], shuffle=False, warm_start=True,
              random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        if weights is not None:
            est.coefs_ = [c.copy() for c in weights[0]]
            est.intercepts_ = [b.copy() for b in weights[1]]
        est.fit(X, y)
    return est


@pytest.mark.parametrize("activation", ["identity", "logistic", "tanh", "relu"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_one_sgd_step_matches_sklearn_classifier(activation, kind):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    y = _targets(kind, rng, 40)
    params = dict(hidden_layer_sizes=(7, 4), activation=activation, alpha=0.01,
                  learning_rate_init=0.1, momentum=0.0)
    sk = SkMLPClassifier(max_iter=1, solver="sgd", batch_size=40, shuffle=False,
                         warm_start=True, random_state=0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
    start = ([c.copy() for c in sk.coefs_], [b.copy() for b in sk.intercepts_])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)  # one full-batch step from `start`
    ours = _one_full_batch_sgd_step(MLPClassifier, X, y, start, **params)
    assert ours.out_activation_ == sk.out_activation_
    for mine, theirs in zip(ours.coefs_ + ours.intercepts_, sk.coefs_ + sk.intercepts_):
        np.testing.assert_allclose(mine, theirs, **FLOAT32_TOL)
    assert ours.loss_ == pytest.approx(sk.loss_, rel=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), **FLOAT32_TOL)


@pytest.mark.parametrize("solver_params", [
    dict(momentum=0.9, nesterovs_momentum=True),
    dict(momentum=0.9, nesterovs_momentum=False),
])
def test_momentum_epochs_match_sklearn(solver_params):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((60, 4))
    y = rng.integers(0, 3, 60)
    params = dict(hidden_layer_sizes=(6,), activation="tanh", alpha=1e-3, learning_rate_init=0.05,
                  batch_size=20, shuffle=False, max_iter=5, tol=0.0, n_iter_no_change=100,
                  random_state=0, **solver_params)
    sk = SkMLPClassifier(**params, solver="sgd", warm_start=True, max_fun=15000)
    ours = MLPClassifier(**params, solver="sgd", warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        sk.fit(X, y)
        ours.fit(X, y)
        ours.coefs_ = [c.copy() for c in sk.coefs_]
        ours.intercepts_ = [b.copy() for b in sk.intercepts_]
        start = ([c.copy() for c in sk.coefs_], [b.copy() for b in sk.intercepts_])
        sk.coefs_, sk.intercepts_ = start
        sk.fit(X, y)
        ours.fit(X, y)
    for mine, theirs in zip(ours.coefs_, sk.coefs_):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.loss_curve_[-5:], sk.loss_curve_[-5:], rtol=1e-5)


def test_adam_epochs_and_invscaling_match_sklearn_regressor():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, 3))
    y = np.column_stack([X @ [1.0, -2.0, 0.5], X[:, 0] ** 2])
    for extra in (dict(solver="adam"), dict(solver="sgd", learning_rate="invscaling",
                                            learning_rate_init=0.05, momentum=0.5)):
        params = dict(hidden_layer_sizes=(5,), activation="relu", alpha=1e-3, batch_size=10,
                      shuffle=False, max_iter=4, tol=0.0, n_iter_no_change=100,
                      random_state=0, warm_start=True, **extra)
        sk, ours = SkMLPRegressor(**params), MLPRegressor(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sk.fit(X, y)
            ours.fit(X, y)
            start = ([c.copy() for c in sk.coefs_], [b.copy() for b in sk.intercepts_])
            ours.coefs_ = [c.copy() for c in start[0]]
            ours.intercepts_ = [b.copy() for b in start[1]]
            sk.coefs_, sk.intercepts_ = start
            sk.fit(X, y)
            ours.fit(X, y)
        for mine, theirs in zip(ours.coefs_, sk.coefs_):
            np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
        # loss_ follows scikit-learn's convention (mean over outputs) up to the
        # penalty estimate taken from the final weights
        np.testing.assert_allclose(ours.loss_curve_[-4:], sk.loss_curve_[-4:], rtol=1e-3)
        np.testing.assert_allclose(ours.predict(X), sk.predict(X), rtol=1e-4, atol=1e-5)


def test_lbfgs_matches_sklearn_mlp():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((80, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    ours = MLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=30, random_state=0,
                         warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        sk_start = SkMLPClassifier(hidden_layer_sizes=(6,), solver="lbfgs", max_iter=1,
                                   random_state=0, warm_start=True).fit(X, y)
        ours.coefs_ = [c.copy() for c in sk_start.coefs_]
        ours.intercepts_ = [b.copy() for b in sk_start.intercepts_]
        sk_start.max_iter = 30
        sk_start.fit(X, y)
        ours.fit(X, y)
    # same objective, same start: the optima agree in loss and predictions
    assert ours.loss_ == pytest.approx(sk_start.loss_, rel=0.05, abs=1e-3)
    assert np.mean(ours.predict(X) == sk_start.predict(X)) >= 0.95


def test_logistic_regression_matches_sklearn():
    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0
    y = y[:600]
    for C in (0.1, 1.0):
        sk = SkLogisticRegression(C=C, max_iter=1000, tol=1e-8).fit(X, y)
        ours = LogisticRegression(C=C, max_iter=1000, tol=1e-6).fit(X, y)
        assert ours.coef_.shape == sk.coef_.shape == (10, 64)
        assert ours.intercept_.shape == sk.intercept_.shape
        # softmax weights are defined up to a shift per feature; compare centred
        mine = ours.coef_ - ours.coef_.mean(axis=0)
        theirs = sk.coef_ - sk.coef_.mean(axis=0)
        np.testing.assert_allclose(mine, theirs, atol=2e-2 * np.abs(theirs).max())
        np.testing.assert_allclose(ours.predict_proba(X), sk.predict_proba(X), atol=5e-3)
    Xb, yb = X, (y > 4).astype(int)
    sk = SkLogisticRegression(C=0.5, max_iter=1000, tol=1e-8).fit(Xb, yb)
    ours = LogisticRegression(C=0.5, max_iter=1000, tol=1e-6).fit(Xb, yb)
    assert ours.coef_.shape == sk.coef_.shape == (1, 64)
    np.testing.assert_allclose(ours.coef_, sk.coef_, atol=2e-2 * np.abs(sk.coef_).max())
    np.testing.assert_allclose(ours.intercept_, sk.intercept_, atol=2e-2)


@pytest.mark.parametrize("cls, params", [
    (MLPClassifier, dict(hidden_layer_sizes=(16,), solver="adam")),
    (MLPClassifier, dict(hidden_layer_sizes=(16,), solver="sgd", learning_rate="invscaling")),
    (MLPRegressor, dict(hidden_layer_sizes=(16,), solver="adam")),
    (LogisticRegression, dict(solver="sgd")),
])
def test_partial_fit_100_times_equals_fit_100_epochs(cls, params):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((120, 6))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1)
    if cls is MLPRegressor:
        y = X @ rng.standard_normal(6)
    common = dict(random_state=0, batch_size=32, tol=0.0, n_iter_no_change=np.inf, **params)
    fitted = cls(max_iter=100, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted.fit(X, y)
    stepped = cls(max_iter=100, **common)
    for _ in range(100):
        if cls is MLPRegressor:
            stepped.partial_fit(X, y)
        else:
            stepped.partial_fit(X, y, classes=np.unique(y))
    assert fitted.n_iter_ == 100
    np.testing.assert_array_equal(stepped.predict(X), fitted.predict(X))
    for mine, theirs in zip(stepped.coefs_, fitted.coefs_):
        np.testing.assert_array_equal(mine, theirs)
    assert stepped.t_ == fitted.t_ == 100 * len(X)


@pytest.mark.parametrize("est", [
    MLPClassifier(hidden_layer_sizes=(20,), max_iter=50, random_state=0),
    LogisticRegression(),
])
def test_predict_proba_rows_sum_to_one_and_argmax_is_predict(est):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((90, 5))
    for y in (rng.integers(0, 2, 90), np.array(["cat", "dog", "owl"])[rng.integers(0, 3, 90)]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
        proba = est.predict_proba(X)
        assert proba.shape == (90, len(est.classes_))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        np.testing.assert_array_equal(est.classes_[np.argmax(proba, axis=1)], est.predict(X))
        np.testing.assert_allclose(est.predict_log_proba(X), np.log(proba), rtol=1e-6)


def test_multilabel_proba_is_per_label():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((80, 4))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0]).astype(int)
    for est in (MLPClassifier(hidden_layer_sizes=(10,), max_iter=300, random_state=0,
                              learning_rate_init=0.01),
                LogisticRegression()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, Y)
        proba = est.predict_proba(X)
        assert proba.shape == Y.shape
        np.testing.assert_array_equal(est.predict(X), (proba > 0.5).astype(int))
        assert est.score(X, Y) > 0.8


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)


def test_digits_mlp_classifier(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    est = MLPClassifier(hidden_layer_sizes=(64,), max_iter=60, random_state=0,
                        normalize="zscore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X_train, y_train)
    assert est.score(X_test, y_test) >= 0.95


def test_digits_logistic_regression(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    est = LogisticRegression(normalize="zscore", max_iter=200).fit(X_train, y_train)
    assert est.score(X_test, y_test) >= 0.95


def test_digits_perceptron(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    est = Perceptron(random_state=0).fit(X_train, y_train)
    assert est.score(X_test, y_test) >= 0.90
