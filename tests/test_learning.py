"""Learning behaviour the theory predicts."""

import numpy as np

from fastmlp import MLP

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def test_perceptron_rule_learns_a_linearly_separable_set():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (200, 2)).astype(np.float32)
    margin = X @ np.array([2.0, -1.0]) + 0.3
    keep = np.abs(margin) > 0.1  # a clear margin, so the rule must converge
    X, y = X[keep], (margin[keep] > 0).astype(int)
    model = MLP([2, 1], output="step", seed=0)
    model.fit(X, y, epochs=100, batch_size=1, optimizer="sgd", learning_rate=0.1)
    assert model.score(X, y) == 1.0
    # the perceptron loss counts mistakes: it ends at zero
    assert model.history["loss"][-1] == 0.0


def test_two_layer_mlp_learns_xor():
    model = MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0)
    model.fit(XOR_X, XOR_Y, epochs=2000, batch_size=None, optimizer="adam", learning_rate=0.05)
    np.testing.assert_array_equal(model.predict(XOR_X), XOR_Y)


def test_logistic_regression_cannot_learn_xor():
    model = MLP([2, 1], output="sigmoid", seed=0)
    model.fit(XOR_X, XOR_Y, epochs=2000, batch_size=None, optimizer="adam", learning_rate=0.05)
    # A line separates at most 3 of the 4 points.
    assert model.score(XOR_X, XOR_Y) <= 0.75
    assert model.history["loss"][-1] > 0.6


def test_multilabel_sigmoids_learn_independent_labels():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], axis=1).astype(int)
    model = MLP([3, 2], output="sigmoid", seed=0)
    model.fit(X, Y, epochs=50, batch_size=32, optimizer="adam", learning_rate=0.05)
    assert model.predict(X).shape == (400, 2)
    assert model.score(X, Y) > 0.95


def test_regression_fits_a_smooth_function():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (500, 1)).astype(np.float32)
    y = np.sin(X[:, 0])
    model = MLP([1, 32, 1], activation="tanh", output="identity", seed=0)
    model.fit(X, y, epochs=200, batch_size=32, optimizer="adam", learning_rate=0.01)
    assert model.score(X, y) > 0.98
