"""check_gradients, gradient norms per layer, and per-layer activations."""

import numpy as np
import pytest

import fastmlp
from fastmlp.diagnostics import activation_stats, check_gradients, layer_gradient_norms

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=24, features=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    return X, rng.integers(0, 3, n)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "relu", "leaky_relu"])
def test_backprop_agrees_with_finite_differences(activation):
    X, y = _data()
    model = fastmlp.MLP([5, 7, 6, 3], activation, seed=1, normalize="zscore")
    model.fit(X, y, epochs=2)
    report = check_gradients(model, X, y)
    assert [layer.layer for layer in report.layers] == [1, 2, 3]
    assert report.max_error < 1e-5, str(report)
    assert report.passed()
    assert "largest relative error" in str(report)


def test_binary_and_multilabel_outputs():
    X, y = _data()
    targets = np.column_stack([y == 0, y == 1]).astype(float)
    model = fastmlp.MLP([5, 4, 2], "tanh", "sigmoid", seed=0)
    assert check_gradients(model, X, targets).max_error < 1e-5
    regression = fastmlp.MLP([5, 4, 1], "tanh", "identity", seed=0)
    assert check_gradients(regression, X, X[:, 0]).max_error < 1e-5


def test_a_wrong_gradient_is_caught(monkeypatch):
    """Swap two weights' gradients: the check must notice."""
    X, y = _data()
    model = fastmlp.MLP([5, 4, 3], "tanh", seed=0)
    real_twin_class = fastmlp.model._NETWORK_CLASSES[np.dtype(np.float64)]

    class WrongBackprop(real_twin_class):
        def gradients(self, *args):
            loss = super().gradients(*args)
            self.grads[:] = self.grads[::-1].copy()
            return loss

    monkeypatch.setitem(fastmlp.model._NETWORK_CLASSES, np.dtype(np.float64), WrongBackprop)
    report = check_gradients(model, X, y)
    assert report.max_error > 0.1
    assert not report.passed()


def test_estimators_are_checked_through_their_network():
    X, y = _data(n=60)
    with pytest.warns(Warning):  # stopped before convergence
        classifier = fastmlp.MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
    assert check_gradients(classifier, X[:20], y[:20]).max_error < 1e-5
    assert len(layer_gradient_norms(classifier, X, y)) == 2
    logistic = fastmlp.LogisticRegression().fit(X, y % 2)
    assert check_gradients(logistic, X[:20], y[:20] % 2).max_error < 1e-4
    with pytest.raises(TypeError, match="expected a fastmlp MLP"):
        check_gradients(object(), X, y)


def test_small_initial_weights_make_gradients_vanish_layer_by_layer():
    X, y = _data(n=200, features=20)
    sizes = [20] + [32] * 6 + [3]
    small = fastmlp.MLP(sizes, "sigmoid", seed=0)
    for W in small.W:
        W *= 0.1
    norms = layer_gradient_norms(small, X, y)
    assert norms[0] < 1e-4 * norms[-1]  # each sigmoid layer scales the signal by <= 0.025
    good = fastmlp.MLP(sizes, "tanh", init="glorot", seed=0)
    norms = layer_gradient_norms(good, X, y)
    assert norms[0] > 0.01 * norms[-1]


def test_large_initial_weights_saturate_tanh():
    X, _ = _data(n=200, features=20)
    large = fastmlp.MLP([20, 64, 64, 3], "tanh", seed=0)
    for W in large.W:
        W *= 10
    stats = activation_stats(large, X)
    assert stats[0]["saturated"] > 0.5 and stats[1]["saturated"] > 0.5
    assert activation_stats(fastmlp.MLP([20, 64, 64, 3], "tanh", seed=0), X)[0]["saturated"] < 0.1


def test_activations_for_a_batch():
    X, _ = _data()
    model = fastmlp.MLP([5, 7, 3], "relu", seed=0)
    layers = model.activations_for(X[:4])
    assert [layer["layer"] for layer in layers] == [1, 2]
    assert [layer["activation"] for layer in layers] == ["relu", "softmax"]
    assert layers[0]["a"].shape == (4, 7) and layers[1]["z"].shape == (4, 3)
    np.testing.assert_allclose(layers[0]["a"], np.maximum(layers[0]["z"], 0))
    np.testing.assert_allclose(layers[-1]["a"], model.predict_proba(X[:4]), rtol=1e-6)
