"""Poisson regression: an exp output (log link) trained on half the Poisson deviance.

scikit-learn's MLPRegressor(loss='poisson'): loss = mean over rows of
sum over outputs of [y log(y / a) - y + a], a = exp(z), so dL/dz = a - y.
"""

import numpy as np
import pytest
from sklearn.linear_model import PoissonRegressor

import fastmlp
from fastmlp import MLPRegressor


def _counts(n=300, features=4, outputs=1, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, features))
    rate = np.exp(0.3 * X @ rng.standard_normal((features, outputs)) + 0.5)
    return X, rng.poisson(rate).astype(np.float64)


def _deviance(y, a):
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / a), 0.0)
    return float(np.mean(np.sum(term - y + a, axis=1)))


def test_native_loss_is_half_the_poisson_deviance():
    X, Y = _counts(outputs=2)
    model = fastmlp.MLP([4, 6, 2], activation="tanh", output="exp", dtype="float64", seed=1)
    assert model.loss_name == "poisson"
    a = model.predict_proba(X)
    assert np.all(a > 0)
    np.testing.assert_allclose(model.loss(X, Y), _deviance(Y, a), rtol=1e-12)


@pytest.mark.parametrize("hidden", [[], [5], [6, 3]])
def test_poisson_gradients_match_finite_differences(hidden):
    X, Y = _counts(n=24, outputs=2, seed=2)
    model = fastmlp.MLP([4, *hidden, 2], activation="tanh", output="exp", dtype="float64", seed=3)
    report = fastmlp.check_gradients(model, X, Y, max_checks_per_layer=30)
    assert report.max_error < 1e-6, report


def test_exp_is_an_output_only_activation():
    with pytest.raises(ValueError, match="exp"):
        fastmlp.MLP([3, 4, 1], activation="exp", output="identity")
    with pytest.raises(ValueError, match="does not go with output activation 'exp'"):
        fastmlp.MLP([3, 1], output="exp", loss="squared_error")


def test_regressor_learns_counts_and_reports_scikit_learns_loss():
    X, y = _counts(n=2000, seed=4)
    est = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), solver="lbfgs", max_iter=300,
                       random_state=0).fit(X, y.ravel())
    assert est.out_activation_ == "exp"
    predicted = est.predict(X)
    assert np.all(predicted > 0)
    # the fitted rates beat the constant rate (the mean) in Poisson deviance
    constant = np.full_like(predicted, y.mean())
    assert _deviance(y, predicted[:, None]) < 0.8 * _deviance(y, constant[:, None])
    # loss_ is scikit-learn's: the deviance plus its L2 term
    squares = sum(float(np.sum(W.astype(np.float64) ** 2)) for W in est.coefs_)
    expected = _deviance(y, est._model.predict_proba(X).astype(np.float64)) \
        + 0.5 * est.alpha * squares / len(y)
    np.testing.assert_allclose(est.loss_, expected, rtol=1e-4)


def test_one_linear_unit_is_a_poisson_glm():
    """No hidden nonlinearity: the MLP is log(rate) = x w + b, scikit-learn's PoissonRegressor."""
    X, y = _counts(n=1000, features=3, seed=5)
    y = y.ravel()
    glm = PoissonRegressor(alpha=0, tol=1e-10, max_iter=1000).fit(X, y)
    mlp = MLPRegressor(loss="poisson", hidden_layer_sizes=(1,), activation="identity",
                       solver="lbfgs", alpha=0, tol=1e-10, max_iter=2000,
                       random_state=0).fit(X, y)
    np.testing.assert_allclose(mlp.predict(X), glm.predict(X), rtol=2e-3)


def test_negative_targets_are_refused_clearly():
    X, y = _counts(n=50)
    y = y.ravel()
    y[7] = -1.0
    with pytest.raises(ValueError, match=r"loss='poisson' needs non-negative targets .*-1\.0"):
        MLPRegressor(loss="poisson", max_iter=5).fit(X, y)


def test_stochastic_solvers_train_poisson_too():
    X, y = _counts(n=600, seed=6)
    for solver in ("sgd", "adam"):
        est = MLPRegressor(loss="poisson", hidden_layer_sizes=(8,), solver=solver,
                           learning_rate_init=0.01, max_iter=30, random_state=0)
        est.fit(X, y.ravel())
        assert np.isfinite(est.loss_) and est.loss_curve_[-1] < est.loss_curve_[0]
