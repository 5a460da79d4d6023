"""Backpropagation against central finite differences, in float64.

A 3-layer network (dL/dW3, dL/dW2, dL/dW1 as in the lecture) for every hidden
activation with every output loss.
"""

import zlib

import numpy as np
import pytest

from fastmlp import MLP

HIDDEN = ["identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
OUTPUTS = {  # output activation -> number of outputs and how to draw targets
    "softmax": 4,
    "sigmoid": 3,
    "identity": 2,
    "tanh": 2,
    "relu": 2,
    "softplus": 2,
}


def targets(output, n_rows, n_outputs, rng):
    if output == "softmax":
        return rng.integers(0, n_outputs, n_rows)
    if output == "sigmoid":
        return rng.integers(0, 2, (n_rows, n_outputs)).astype(float)
    return rng.normal(size=(n_rows, n_outputs))


def finite_difference_gradient(model, X, y, eps=1e-6, **loss_kwargs):
    params = model.params
    grad = np.zeros(params.size)
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + eps
        up = model.loss(X, y, **loss_kwargs)
        params[i] = saved - eps
        down = model.loss(X, y, **loss_kwargs)
        params[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def max_relative_error(analytic, numeric):
    # Relative where entries are large; for entries near zero the difference
    # is measured against 1e-3, above the finite-difference round-off.
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-3)
    return float(np.max(np.abs(analytic - numeric) / scale))


def flat(dW, db):
    return np.concatenate([np.concatenate([w.ravel(), b]) for w, b in zip(dW, db)])


@pytest.mark.parametrize("output", list(OUTPUTS))
@pytest.mark.parametrize("hidden", HIDDEN)
def test_backprop_matches_finite_differences(hidden, output):
    # A seed of its own per case, the same in every run (str hashes are not).
    rng = np.random.default_rng(zlib.crc32(f"{hidden}-{output}".encode()))
    n_outputs = OUTPUTS[output]
    model = MLP([5, 6, 4, n_outputs], activation=hidden, output=output, seed=1, dtype="float64")
    # Biases away from zero so ReLU-family kinks are not sat on.
    for b in model.b:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    if output == "relu":
        # Output units on the active side, so the output gradient is not all zero.
        model.b[-1][...] = 0.5 + np.abs(model.b[-1])
    X = rng.normal(size=(7, 5))
    y = targets(output, 7, n_outputs, rng)
    loss, dW, db = model.gradients(X, y)
    assert loss == pytest.approx(model.loss(X, y), rel=1e-12)
    analytic = flat(dW, db)
    numeric = finite_difference_gradient(model, X, y)
    if hidden == "step":
        # The step function has zero derivative wherever it is differentiable:
        # only the output layer's weights and bias receive gradient.
        n_last = model.layer_sizes[-2] * n_outputs + n_outputs
        assert np.all(analytic[:-n_last] == 0)
    assert max_relative_error(analytic, numeric) < 1e-6
    # Every layer gets a gradient we checked, not a vacuous all-zero one.
    assert np.any(dW[-1] != 0)


@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity"])
def test_l2_penalty_and_sample_weights_gradients(output):
    rng = np.random.default_rng(3)
    n_outputs = OUTPUTS[output]
    model = MLP([4, 5, n_outputs], activation="tanh", output=output, seed=2, dtype="float64")
    X = rng.normal(size=(6, 4))
    y = targets(output, 6, n_outputs, rng)
    w = rng.uniform(0.1, 2.0, 6)
    kwargs = {"l2": 0.3, "sample_weight": w}
    _, dW, db = model.gradients(X, y, **kwargs)
    numeric = finite_difference_gradient(model, X, y, **kwargs)
    assert max_relative_error(flat(dW, db), numeric) < 1e-6


def test_perceptron_delta_is_the_perceptron_rule():
    # With a step output the "gradient" is the perceptron rule's
    # (h(x) - y) x / n, so an SGD step is theta += eta (y - h(x)) x / n.
    model = MLP([3, 1], output="step", dtype="float64", seed=0)
    model.W[0][...] = [[0.5], [-1.0], [0.25]]
    model.b[0][...] = [0.1]
    X = np.array([[1.0, 2.0, 3.0], [2.0, 0.0, -1.0]])
    y = np.array([1.0, 0.0])
    h = (X @ model.W[0][:, 0] + 0.1 >= 0).astype(float)
    _, dW, db = model.gradients(X, y)
    np.testing.assert_allclose(dW[0][:, 0], X.T @ (h - y) / 2)
    np.testing.assert_allclose(db[0], [np.sum(h - y) / 2])


def test_binary_cross_entropy_is_finite_for_huge_logits():
    model = MLP([1, 1], output="sigmoid", dtype="float32", seed=0)
    model.W[0][...] = 1.0
    X = np.array([[1e4], [-1e4]], dtype=np.float32)
    # Both confidently wrong: the loss is 1e4 per row, not inf.
    loss = model.loss(X, np.array([0.0, 1.0]))
    assert np.isfinite(loss)
    assert loss == pytest.approx(1e4, rel=1e-5)
    _, dW, db = model.gradients(X, np.array([0.0, 1.0]))
    assert np.all(np.isfinite(dW[0])) and np.all(np.isfinite(db[0]))


def test_softmax_cross_entropy_is_finite_for_huge_logits():
    model = MLP([1, 3], output="softmax", dtype="float32", seed=0)
    model.W[0][...] = [[1e4, -1e4, 0.0]]
    loss = model.loss(np.array([[1.0]], dtype=np.float32), np.array([1]))
    assert loss == pytest.approx(2e4, rel=1e-5)
