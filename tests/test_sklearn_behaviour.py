"""scikit-learn's behaviours that its own tests pin, and its 1.9 parameters.

scikit-learn's estimators are the oracle wherever they can be run side by
side; tools/run_sklearn_tests.py runs scikit-learn's test files themselves.
"""

import inspect
import warnings

import numpy as np
import pytest
import sklearn.linear_model
import sklearn.neural_network
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning

import fastmlp
from fastmlp import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, TrainingDivergedError

NON_FINITE = ("Solver produced non-finite parameter weights. The input data may contain large "
              "values and need to be preprocessed.")
TWINS = [
    (MLPClassifier, sklearn.neural_network.MLPClassifier),
    (MLPRegressor, sklearn.neural_network.MLPRegressor),
    (LogisticRegression, sklearn.linear_model.LogisticRegression),
    (Perceptron, sklearn.linear_model.Perceptron),
]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


# ------------------------------------------------------------ the signature
@pytest.mark.parametrize(("ours", "theirs"), TWINS, ids=lambda c: c.__name__)
def test_every_scikit_learn_parameter_with_its_default_and_place(ours, theirs):
    mine = inspect.signature(ours.__init__).parameters
    sk = inspect.signature(theirs.__init__).parameters
    missing = sorted(set(sk) - set(mine))
    assert not missing, f"{ours.__name__} lacks scikit-learn's {missing}"
    for name, parameter in sk.items():
        assert mine[name].default == parameter.default, name
        assert mine[name].kind == parameter.kind, name
    positional = [n for n, p in mine.items() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert positional == [n for n, p in sk.items() if p.kind == p.POSITIONAL_OR_KEYWORD]


# ------------------------------------------------------------ non-finite weights
def test_non_finite_weights_raise_scikit_learns_message():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    y = rng.standard_normal(size=10)
    for solver in ("adam", "sgd", "lbfgs"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(ValueError, match=NON_FINITE):
                MLPRegressor(solver=solver, max_iter=5).fit(X, y)


def test_a_diverging_fit_without_validation_gives_scikit_learns_message_then_why(iris):
    X, y = iris
    est = MLPRegressor(solver="sgd", learning_rate_init=1e3, max_iter=50, random_state=0)
    with pytest.raises(TrainingDivergedError, match=NON_FINITE + " The training loss became "
                       "NaN or infinite at epoch [0-9]+; scale the input"):
        est.fit((X * 1e3).astype(np.float32), y * 1e6)  # float32 weights overflow


# ------------------------------------------------------------ divergence with early stopping
def _diverging(**extra):
    return MLPRegressor(hidden_layer_sizes=100, activation="identity", solver="sgd",
                        learning_rate_init=1, max_iter=20, early_stopping=True,
                        n_iter_no_change=10, random_state=0, **extra)


def test_divergence_with_early_stopping_ends_quietly_with_the_best_weights(iris):
    X, y = iris
    est = _diverging()
    with pytest.warns(ConvergenceWarning, match="NaN or infinite at epoch"):
        est.fit(X, y)
    score = est.validation_scores_[-1]
    assert isinstance(score, float) and np.isnan(score)
    assert np.isnan(est.loss_curve_[-1]) and np.isnan(est.validation_loss_curve_[-1])
    assert len(est.validation_scores_) == len(est.loss_curve_) == est.n_iter_
    assert all(np.isfinite(W).all() for W in est.coefs_)
    assert np.isfinite(est.predict(X)).all()
    # The kept weights are the best validation epoch's: with an eval_set (the
    # same code path) their score is the best score recorded.
    X_val, y_val = X[::3], y[::3]
    est = _diverging()
    est.set_params(early_stopping=False)
    with pytest.warns(ConvergenceWarning, match="NaN or infinite"):
        est.fit(X, y, eval_set=(X_val, y_val))
    assert np.isnan(est.validation_scores_[-1])
    assert np.isfinite(est.best_validation_score_)
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_)


def test_divergence_with_early_stopping_matches_scikit_learn_outcome(iris):
    X, y = iris
    theirs = sklearn.neural_network.MLPRegressor(
        hidden_layer_sizes=100, activation="identity", solver="sgd", learning_rate_init=1,
        max_iter=20, early_stopping=True, n_iter_no_change=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        ours = _diverging().fit(X, y)
    for est in (theirs, ours):
        assert np.isnan(est.validation_scores_[-1])
        assert all(np.isfinite(W).all() for W in est.coefs_)


# ------------------------------------------------------------ the stratified split
def test_early_stopping_split_is_stratified_with_scikit_learns_error():
    X = [[1, 2], [2, 3], [3, 4], [4, 5]]
    with pytest.raises(ValueError, match=r"The least populated classes in y have only 1 member"
                                         r".*Classes with too few members are: \['True'\]"
                                         r".*'True' is 'spam'"):
        MLPClassifier(early_stopping=True).fit(X, ["ham", "ham", "ham", "spam"])


def test_stratified_split_keeps_the_class_shares(monkeypatch):
    # 10 of 200 rows are positive: a stratified 10% validation set holds
    # exactly 1 of them whatever the seed (an unstratified one 0 to 10).
    from fastmlp.estimators import _base

    X, y = make_classification(n_samples=200, weights=[0.95], flip_y=0, random_state=0)
    assert (y == 1).sum() == 10
    splits = []

    def spy(*arrays, **options):
        parts = _base.train_test_split.__wrapped_split__(*arrays, **options)
        splits.append(parts[1])
        return parts

    spy.__wrapped_split__ = _base.train_test_split
    monkeypatch.setattr(_base, "train_test_split", spy)
    for seed in range(8):
        est = MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=2,
                            random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(X, y)
    assert len(splits) == 8
    assert [int((y[val] == 1).sum()) for val in splits] == [1] * 8
    assert len({tuple(val) for val in splits}) > 1


def test_multiclass_split_is_not_stratified_as_in_scikit_learn():
    # scikit-learn stratifies only single-output classifiers (two classes): a
    # multiclass target with a one-member class trains.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.array([0] * 30 + [1] * 29 + [2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True, max_iter=2,
                      random_state=0).fit(X, y)
        sklearn.neural_network.MLPClassifier(hidden_layer_sizes=(4,), early_stopping=True,
                                             max_iter=2, random_state=0).fit(X, y)


# ------------------------------------------------------------ hand-set weights
def _hand_set(est, rng, sizes):
    """Weights set by hand on an unfitted estimator, and for scikit-learn's own MLPs
    the bookkeeping its first fit would set (as its test_fit does)."""
    est.coefs_ = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    est.intercepts_ = [rng.normal(size=b) for b in sizes[1:]]
    if isinstance(est, sklearn.neural_network._multilayer_perceptron.BaseMultilayerPerceptron):
        est.n_outputs_ = sizes[-1]
        est.n_layers_ = len(sizes)
        est.out_activation_ = "logistic" if isinstance(est, MLPClassifierTwin) else "identity"
        est.n_iter_ = est.t_ = est._no_improvement_count = 0
        est.loss_curve_ = []
        est.best_loss_ = np.inf
        est.validation_scores_ = est.best_validation_score_ = None
    return est


MLPClassifierTwin = sklearn.neural_network.MLPClassifier


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_partial_fit_trains_on_from_hand_set_weights_like_scikit_learn(kind):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3))
    if kind == "classifier":
        y = (X[:, 0] > 0).astype(int)
        ours, theirs = MLPClassifier, sklearn.neural_network.MLPClassifier
        fit = {"classes": [0, 1]}
    else:
        y = X[:, 0] - 2 * X[:, 1]
        ours, theirs = MLPRegressor, sklearn.neural_network.MLPRegressor
        fit = {}
    params = dict(solver="sgd", hidden_layer_sizes=(4,), activation="tanh", momentum=0,
                  learning_rate_init=0.1, alpha=0.01, batch_size=20, shuffle=False,
                  random_state=0)
    a = _hand_set(ours(**params), np.random.default_rng(1), [3, 4, 1])
    b = _hand_set(theirs(**params), np.random.default_rng(1), [3, 4, 1])
    a.partial_fit(X, y, **fit)
    b.partial_fit(X, y, **fit)
    for mine, sk in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_allclose(mine, sk, rtol=1e-5, atol=1e-6)


def test_warm_start_fit_trains_on_from_hand_set_weights_a_plain_fit_does_not():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = X[:, 0] - X[:, 2]
    params = dict(solver="sgd", hidden_layer_sizes=(5,), momentum=0, learning_rate_init=0.05,
                  batch_size=30, shuffle=False, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm = _hand_set(MLPRegressor(warm_start=True, **params), np.random.default_rng(2),
                         [3, 5, 1]).fit(X, y)
        sk = _hand_set(sklearn.neural_network.MLPRegressor(warm_start=True, **params),
                       np.random.default_rng(2), [3, 5, 1]).fit(X, y)
        cold = _hand_set(MLPRegressor(**params), np.random.default_rng(2), [3, 5, 1]).fit(X, y)
    np.testing.assert_allclose(warm.coefs_[0], sk.coefs_[0], rtol=1e-5, atol=1e-6)
    fresh = MLPRegressor(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fresh.fit(X, y)
    np.testing.assert_array_equal(cold.coefs_[0], fresh.coefs_[0])


def test_hand_set_weights_of_the_wrong_shape_are_refused():
    X = np.zeros((4, 3))
    est = _hand_set(MLPRegressor(solver="sgd", hidden_layer_sizes=(4,)),
                    np.random.default_rng(0), [3, 5, 1])
    with pytest.raises(ValueError, match=r"coefs_\[0\] must have shape \(3, 4\)"):
        est.partial_fit(X, np.zeros(4))
    est = MLPRegressor(solver="sgd", hidden_layer_sizes=(4,))
    est.coefs_ = [np.zeros((3, 4)), np.zeros((4, 1))]
    with pytest.raises(ValueError, match="both coefs_ and intercepts_"):
        est.partial_fit(X, np.zeros(4))


def test_float32_input_predicts_float32_like_scikit_learn(iris):
    X, y = iris
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = MLPRegressor(hidden_layer_sizes=(4,), max_iter=3, random_state=0)
        est.fit(X.astype(np.float32), y)
        assert est.coefs_[0].dtype == np.float32
        assert est.predict(X.astype(np.float32)).dtype == np.float32
        assert est.predict(X).dtype == np.float64
        est.fit(X, y)  # float64 weights: float64 predictions whatever X is
        assert est.coefs_[0].dtype == np.float64
        assert est.predict(X.astype(np.float32)).dtype == np.float64


# ------------------------------------------------------------ Perceptron's parameters
def test_perceptron_elasticnet_without_l1_is_l2(iris):
    X, y = iris
    l2 = Perceptron(penalty="l2").fit(X, y)
    elasticnet = Perceptron(penalty="elasticnet", l1_ratio=0).fit(X, y)
    np.testing.assert_array_equal(l2.coef_, elasticnet.coef_)
    assert not np.array_equal(l2.coef_, Perceptron().fit(X, y).coef_)


def test_perceptron_n_jobs_sets_the_native_threads_unless_n_threads_does(iris, monkeypatch):
    seen = []
    original = fastmlp._core.set_num_threads

    def record(n):
        seen.append(n)
        original(n)

    monkeypatch.setattr(fastmlp._core, "set_num_threads", record)
    Perceptron(n_jobs=1).fit(*iris)
    assert seen[0] == 1
    seen.clear()
    Perceptron(n_jobs=1, n_threads=2).fit(*iris)
    assert seen[0] == 2
    seen.clear()
    Perceptron().fit(*iris)
    assert seen == []
    fitted = [Perceptron(n_jobs=n).fit(*iris).coef_ for n in (None, 1, -1)]
    np.testing.assert_array_equal(fitted[0], fitted[1])
    np.testing.assert_array_equal(fitted[0], fitted[2])


# ------------------------------------------------------------ LogisticRegression's parameters
def test_logistic_penalty_is_deprecated_as_in_scikit_learn(iris):
    X, y = iris
    with pytest.warns(FutureWarning, match="'penalty' was deprecated in version 1.8"):
        with_penalty = LogisticRegression(penalty="l2").fit(X, y)
    np.testing.assert_array_equal(with_penalty.coef_, LogisticRegression().fit(X, y).coef_)
    with pytest.warns(FutureWarning, match="'penalty' was deprecated"):
        unpenalized = LogisticRegression(penalty=None, max_iter=300).fit(X, y)
    np.testing.assert_array_equal(unpenalized.coef_,
                                  LogisticRegression(C=np.inf, max_iter=300).fit(X, y).coef_)


@pytest.mark.parametrize(("params", "message"), [
    ({"l1_ratio": 1.0}, "supports only 'l2' or None penalties, got l1 penalty.*no L1 step"),
    ({"l1_ratio": 0.5}, "got elasticnet penalty"),
    ({"dual": True}, "supports only dual=False, got dual=True"),
])
def test_logistic_refuses_what_its_solvers_cannot_do(iris, params, message):
    with pytest.raises(ValueError, match=message):
        LogisticRegression(**params).fit(*iris)
    # scikit-learn's lbfgs refuses the same.
    with pytest.raises(ValueError):
        sklearn.linear_model.LogisticRegression(**params).fit(*iris)


def test_logistic_n_jobs_and_intercept_scaling_change_nothing(iris):
    X, y = iris
    reference = LogisticRegression().fit(X, y).coef_
    with pytest.warns(FutureWarning, match="'n_jobs' has no effect"):
        np.testing.assert_array_equal(LogisticRegression(n_jobs=2).fit(X, y).coef_, reference)
    np.testing.assert_array_equal(LogisticRegression(intercept_scaling=5.0).fit(X, y).coef_,
                                  reference)
    with pytest.raises(ValueError, match="intercept_scaling"):
        LogisticRegression(intercept_scaling=0).fit(X, y)


def test_perceptron_overflow_gives_scikit_learns_sgd_message():
    # float32 weights overflow; the error is worded as scikit-learn's SGD
    # words its own overflow.
    rng = np.random.default_rng(0)
    X = (rng.uniform(size=(20, 3)) * 3e38).astype(np.float32)
    y = (rng.uniform(size=20) > 0.5).astype(int)
    with pytest.raises(ValueError, match=r"Floating-point under-/overflow occurred at epoch #\d+\. "
                                         "Scaling input data with StandardScaler or MinMaxScaler"):
        Perceptron().fit(X, y)
