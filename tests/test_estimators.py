"""Behaviour of the scikit-learn compatible estimators beyond the estimator checks."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastmlp
from fastmlp import LogisticRegression, MLPClassifier, MLPRegressor, Perceptron, TrainingDivergedError

pytestmark = pytest.mark.usefixtures("quiet_one_thread")


def blobs(n=150, n_features=4, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((n_classes, n_features)) * 3
    y = rng.integers(0, n_classes, n)
    X = centers[y] + rng.standard_normal((n, n_features))
    return X, y


CLASSIFIERS = [
    lambda: MLPClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=100,
                          random_state=0),
    lambda: MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", max_iter=100,
                          random_state=0),
    lambda: LogisticRegression(),
    lambda: LogisticRegression(solver="adam", max_iter=100, random_state=0),
    lambda: Perceptron(),
]


@pytest.mark.parametrize("make", CLASSIFIERS)
@pytest.mark.parametrize("labels", [np.array(["cat", "dog", "owl"]), np.array([-1, 1]),
                                    np.array([2.0, 7.0])])
def test_any_label_type(make, labels):
    X, y = blobs(n_classes=len(labels))
    y_labels = labels[y]
    est = make().fit(X, y_labels)
    np.testing.assert_array_equal(est.classes_, np.sort(labels))
    predicted = est.predict(X)
    assert predicted.dtype == y_labels.dtype
    assert set(predicted) <= set(labels)
    assert est.score(X, y_labels) > 0.8


def test_fitted_attributes_like_sklearn():
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(8, 5), max_iter=20, random_state=0).fit(X, y)
    assert [c.shape for c in est.coefs_] == [(4, 8), (8, 5), (5, 3)]
    assert [b.shape for b in est.intercepts_] == [(8,), (5,), (3,)]
    assert est.n_layers_ == 4 and est.n_outputs_ == 3 and est.out_activation_ == "softmax"
    assert est.n_features_in_ == 4 and est.n_iter_ == 20 and est.t_ == 20 * len(X)
    assert len(est.loss_curve_) == 20 and est.loss_ == est.loss_curve_[-1]
    assert est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.n_params_ == 4 * 8 + 8 + 8 * 5 + 5 + 5 * 3 + 3
    binary = MLPClassifier(max_iter=5, random_state=0).fit(X, y == 1)
    assert binary.out_activation_ == "logistic" and binary.n_outputs_ == 1
    text = est.summary(print_fn=None)
    assert f"{est.n_params_:,}" in text


def test_in_place_and_assigned_coefs_change_predictions():
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(6,), max_iter=30, random_state=0).fit(X, y)
    before = est.predict_proba(X)
    est.coefs_[1][...] = 0.0          # in place: the views write the native weights
    est.intercepts_[1][...] = [0.0, 0.0, 5.0]
    assert np.all(est.predict(X) == 2)
    est.coefs_ = [np.zeros((4, 6)), np.zeros((6, 3))]  # assigned: copied in at predict
    expected = np.exp([0, 0, 5]) / np.exp([0, 0, 5]).sum()
    np.testing.assert_allclose(est.predict_proba(X)[0], expected, rtol=1e-5)
    assert not np.allclose(before, est.predict_proba(X))


def test_multilabel_targets():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 5))
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 2] < 0]).astype(int)
    lr = LogisticRegression().fit(X, Y)
    assert lr.coef_.shape == (3, 5) and lr.intercept_.shape == (3,)
    assert lr.predict(X).shape == Y.shape and lr.score(X, Y) > 0.9
    mlp = MLPClassifier(hidden_layer_sizes=(10,), solver="lbfgs", random_state=0).fit(X, Y)
    assert mlp.out_activation_ == "logistic" and mlp.n_outputs_ == 3
    assert mlp.score(X, Y) > 0.9


def test_regressor_relu_output_and_multi_output():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 3))
    age = np.maximum(0.0, X @ [2.0, -1.0, 0.5])  # cannot be negative
    est = MLPRegressor(hidden_layer_sizes=(16,), out_activation="relu", solver="lbfgs",
                       random_state=0).fit(X, age)
    assert est.out_activation_ == "relu"
    assert np.all(est.predict(X) >= 0) and est.score(X, age) > 0.9
    Y = np.column_stack([X[:, 0] * 2, X[:, 1] - X[:, 2]])
    multi = MLPRegressor(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0).fit(X, Y)
    assert multi.predict(X).shape == (200, 2) and multi.n_outputs_ == 2
    assert multi.out_activation_ == "identity" and multi.score(X, Y) > 0.95
    with pytest.raises(ValueError, match="out_activation must stay 'identity'"):
        MLPRegressor(loss="poisson", out_activation="relu").fit(X, age)


@pytest.mark.parametrize("activation", ["leaky_relu", "softplus", "tanh", "identity"])
@pytest.mark.parametrize("init", [None, "lecun", "he", "glorot"])
def test_extra_activations_and_inits(activation, init):
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(8,), activation=activation, init=init,
                        solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    assert est.score(X, y) > 0.9


def test_normalize_is_kept_in_the_model():
    X, y = blobs()
    X_big = X * 1000 + 5000
    est = MLPClassifier(hidden_layer_sizes=(8,), normalize="zscore", solver="lbfgs",
                        random_state=0).fit(X_big, y)
    assert est.score(X_big, y) > 0.9
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(restored.predict_proba(X_big), est.predict_proba(X_big))
    minmax = LogisticRegression(normalize="minmax").fit(X_big, y)
    assert minmax.score(X_big, y) > 0.9
    with pytest.raises(ValueError, match="normalize"):
        MLPClassifier(normalize="l2").fit(X, y)


@pytest.mark.parametrize("make", [
    lambda: MLPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
    lambda: MLPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
    lambda: LogisticRegression(solver="sgd", max_iter=20, random_state=0),
])
def test_sample_weight_equals_repetition(make):
    """Full batch (n < 200): integer weights = repeated rows, up to float32 rounding."""
    rng = np.random.default_rng(3)
    X = rng.random((30, 4))
    y = rng.integers(0, 3, 30)
    sw = rng.integers(0, 4, 30)
    weighted = make().fit(X, y, sample_weight=sw)
    repeated = make().fit(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    method = "predict" if isinstance(weighted, MLPRegressor) else "predict_proba"
    np.testing.assert_allclose(getattr(weighted, method)(X), getattr(repeated, method)(X),
                               rtol=2e-5, atol=1e-6)


def test_class_weight():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 2))
    y = (X[:, 0] + 0.5 * rng.standard_normal(300) > 1.2).astype(int)  # ~12% positives
    recall = lambda est: np.mean(est.predict(X)[y == 1] == 1)  # noqa: E731
    for make in (lambda cw: LogisticRegression(class_weight=cw),
                 lambda cw: MLPClassifier(hidden_layer_sizes=(4,), solver="lbfgs",
                                          random_state=0, class_weight=cw)):
        plain = make(None).fit(X, y)
        balanced = make("balanced").fit(X, y)
        assert recall(balanced) > recall(plain)
        heavy = make({0: 1.0, 1: 50.0}).fit(X, y)
        assert np.mean(heavy.predict(X) == 1) > np.mean(plain.predict(X) == 1)
    # the perceptron rule is noisy on overlapping classes: only the heavy weighting
    plain = Perceptron().fit(X, y)
    heavy = Perceptron(class_weight={0: 1.0, 1: 50.0}).fit(X, y)
    assert recall(heavy) > recall(plain)


def test_eval_set_keeps_best_weights_and_records_validation_loss():
    X, y = blobs(n=400, seed=5)
    X_train, y_train, X_val, y_val = X[:300], y[:300], X[300:], y[300:]
    est = MLPClassifier(hidden_layer_sizes=(32,), learning_rate_init=0.05, max_iter=200,
                        n_iter_no_change=5, random_state=0)
    est.fit(X_train, y_train, eval_set=(X_val, y_val))
    assert est.n_iter_ < 200
    assert len(est.validation_scores_) == len(est.validation_loss_curve_) == est.n_iter_
    assert est.best_validation_score_ == max(est.validation_scores_)
    assert est.score(X_val, y_val) == pytest.approx(est.best_validation_score_)
    assert all(np.isfinite(est.validation_loss_curve_))

    reg = MLPRegressor(hidden_layer_sizes=(8,), max_iter=50, random_state=0)
    target = X[:, 0] - X[:, 1]
    reg.fit(X[:300], target[:300], eval_set=(X[300:], target[300:]))
    assert reg.score(X[300:], target[300:]) == pytest.approx(reg.best_validation_score_)
    with pytest.raises(ValueError, match="stochastic"):
        MLPClassifier(solver="lbfgs").fit(X_train, y_train, eval_set=(X_val, y_val))


def test_early_stopping_split():
    X, y = blobs(n=400, seed=6)
    est = MLPClassifier(hidden_layer_sizes=(16,), early_stopping=True, max_iter=300,
                        random_state=0, learning_rate_init=0.05).fit(X, y)
    assert est.best_loss_ is None
    assert len(est.validation_scores_) == est.n_iter_ < 300
    assert len(est.validation_loss_curve_) == est.n_iter_
    with pytest.raises(ValueError, match="early_stopping"):
        est.partial_fit(X, y)


def test_partial_fit_rules():
    X, y = blobs()
    with pytest.raises(ValueError, match="classes"):
        MLPClassifier().partial_fit(X, y)
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")
    assert not hasattr(LogisticRegression(), "partial_fit")
    est = MLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    est.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    assert est.out_activation_ == "softmax" and list(est.classes_) == [0, 1, 2]
    est.partial_fit(X, y)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X, y + 5)
    perceptron = Perceptron().partial_fit(X, y, classes=[0, 1, 2])
    assert perceptron.coef_.shape == (3, 4)


def test_convergence_warning_and_divergence():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(max_iter=2, random_state=0).fit(X, y)
    with pytest.warns(ConvergenceWarning):
        MLPClassifier(solver="lbfgs", max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(TrainingDivergedError):
        MLPRegressor(solver="sgd", learning_rate_init=1e3, max_iter=50,
                     random_state=0).fit(X * 1e3, y * 1e6)
    with pytest.raises(NotFittedError):
        MLPClassifier().predict(X)


def test_pickle_clone_pipeline_gridsearch():
    X, y = blobs()
    for est in (MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
                MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0),
                LogisticRegression(), Perceptron()):
        target = y.astype(float) if isinstance(est, MLPRegressor) else y
        est.fit(X, target)
        restored = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(restored.predict(X), est.predict(X))
        restored.coefs_[0][...] = 0.0  # the restored views are live too
        assert not np.array_equal(restored.predict(X), est.predict(X)) or \
            isinstance(est, Perceptron)
        twin = clone(est)
        assert twin.get_params() == est.get_params() and not hasattr(twin, "coefs_")
    pipe = make_pipeline(StandardScaler(),
                         MLPClassifier(hidden_layer_sizes=(8,), max_iter=300,
                                       learning_rate_init=0.01, random_state=0))
    assert pipe.fit(X, y).score(X, y) > 0.9
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 1.0]}, cv=3).fit(X, y)
    assert search.best_params_["C"] in (0.01, 1.0) and search.best_score_ > 0.9


def test_warm_start_continues():
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, warm_start=True, random_state=0)
    est.fit(X, y)
    first = [c.copy() for c in est.coefs_]
    est.fit(X, y)
    assert len(est.loss_curve_) == 10 and est.t_ == 10 * len(X)
    assert not np.allclose(first[0], est.coefs_[0])
    cold = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    cold.fit(X, y)
    cold.fit(X, y)
    assert len(cold.loss_curve_) == 5
    with pytest.raises(ValueError, match="same classes"):
        est.fit(X[y < 2], y[y < 2])


def test_adaptive_learning_rate_divides_by_five():
    X, y = blobs()
    est = MLPClassifier(hidden_layer_sizes=(4,), solver="sgd", learning_rate="adaptive",
                        learning_rate_init=0.1, tol=10.0, n_iter_no_change=1, max_iter=6,
                        random_state=0).fit(X, y)
    # only the first epoch improves by tol=10; then the count exceeds
    # n_iter_no_change=1 every second epoch (epochs 3 and 5): two divisions by 5
    assert est._learning_rate_ == pytest.approx(0.1 / 5 ** 2)


def test_n_threads_is_restored():
    X, y = blobs()
    before = fastmlp.get_num_threads()
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, n_threads=2).fit(X, y).predict(X)
    assert fastmlp.get_num_threads() == before


def test_verbose_prints(capsys):
    X, y = blobs()
    MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, verbose=True).fit(X, y)
    assert "Iteration 2, loss = " in capsys.readouterr().out


# ------------------------------------------------------------ logistic regression
def test_logistic_regression_options():
    X, y = blobs(seed=7)
    no_intercept = LogisticRegression(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(no_intercept.intercept_, 0.0)
    sgd_no_intercept = LogisticRegression(fit_intercept=False, solver="sgd", max_iter=5,
                                          random_state=0).fit(X, y)
    np.testing.assert_array_equal(sgd_no_intercept.intercept_, 0.0)
    strong = LogisticRegression(C=1e-3).fit(X, y)
    weak = LogisticRegression(C=np.inf).fit(X, y)
    assert np.abs(strong.coef_).sum() < np.abs(weak.coef_).sum()
    binary = LogisticRegression().fit(X, y == 0)
    assert binary.coef_.shape == (1, 4) and binary.decision_function(X).shape == (150,)
    np.testing.assert_allclose(binary.predict_proba(X)[:, 1],
                               1 / (1 + np.exp(-binary.decision_function(X))), rtol=1e-5)
    assert LogisticRegression().fit(X, y).decision_function(X).shape == (150, 3)


# ------------------------------------------------------------ perceptron
def reference_perceptron(X, Y, eta, epochs):
    """scikit-learn's rule, sample by sample: with s = 2 y - 1 and z = x W + b,
    an output with s z <= 0 (z = 0 included) moves by eta s x (its bias by eta s)."""
    W = np.zeros((X.shape[1], Y.shape[1]))
    b = np.zeros(Y.shape[1])
    for _ in range(epochs):
        for x, t in zip(X, Y):
            s = 2 * t - 1
            wrong = (s * (x @ W + b) <= 0).astype(float)
            W += eta * np.outer(x, s * wrong)
            b += eta * s * wrong
    return W, b


@pytest.mark.parametrize("n_classes", [2, 3])
def test_perceptron_is_scikit_learns_rule(n_classes):
    X, y = blobs(n=60, n_classes=n_classes, seed=8)
    X = np.round(X, 2)  # exactly representable steps keep float32 and float64 in step
    est = Perceptron(shuffle=False, eta0=0.5, max_iter=4, tol=None).fit(X, y)
    Y = np.eye(n_classes)[y][:, 1:] if n_classes == 2 else np.eye(n_classes)[y]
    W, b = reference_perceptron(X, Y, 0.5, 4)
    np.testing.assert_allclose(est.coef_, W.T, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(est.intercept_, b, atol=1e-4)
    assert est.n_iter_ == 4 and est.t_ == 1 + 4 * 60  # scikit-learn's t_ starts at 1


def test_perceptron_options():
    X, y = blobs(seed=9)
    est = Perceptron(fit_intercept=False).fit(X, y)
    np.testing.assert_array_equal(est.intercept_, 0.0)
    assert est.decision_function(X).shape == (150, 3)
    assert est.coef_.shape == (3, 4)
    binary = Perceptron().fit(X, y == 1)
    assert binary.decision_function(X).shape == (150,) and binary.coef_.shape == (1, 4)
    batched = Perceptron(batch_size=10).fit(X, y)
    assert batched.score(X, y) > 0.85
    stopped = Perceptron(early_stopping=True, n_iter_no_change=3).fit(X, y)
    assert stopped.n_iter_ < 1000 and len(stopped.validation_scores_) == stopped.n_iter_
    penalized = Perceptron(penalty="l2", alpha=0.1).fit(X, y)
    assert np.abs(penalized.coef_).sum() < np.abs(est.coef_).sum() + np.abs(est.intercept_).sum() \
        or penalized.score(X, y) > 0.8
    start = np.ones((3, 4))
    warm = Perceptron(max_iter=1, tol=None, eta0=1e-9).fit(X, y, coef_init=start)
    np.testing.assert_allclose(warm.coef_, start, atol=1e-6)
    with pytest.raises(ValueError, match="classes"):
        Perceptron().fit(X, np.zeros(150))
