"""Property tests over random architectures (hypothesis).

1. Predicting row by row, in random chunks, or all at once gives the same
   outputs (within 1e-6 relative): no row's result depends on its batch.
2. Backpropagated gradients of a float64 model agree with central finite
   differences of the loss, for every parameter.

The step activation is left out of both: it is discontinuous (a 1-ulp change
in z can flip it) and its derivative is zero almost everywhere.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import fastmlp

SMOOTH_HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "softplus"]
# (output activation, kind of target it trains on)
OUTPUTS = [("softmax", "labels"), ("sigmoid", "binary"), ("identity", "real"),
           ("tanh", "real"), ("softplus", "real"), ("leaky_relu", "real")]

PROPERTY = settings(max_examples=60, deadline=None, derandomize=True)


@st.composite
def architectures(draw, max_width=24, max_hidden=2):
    n_inputs = draw(st.integers(1, max_width))
    hidden = draw(st.lists(st.integers(1, max_width), max_size=max_hidden))
    output, target = draw(st.sampled_from(OUTPUTS))
    n_outputs = draw(st.integers(2 if output == "softmax" else 1, 6))
    activations = [draw(st.sampled_from(SMOOTH_HIDDEN)) for _ in hidden]
    return dict(sizes=[n_inputs, *hidden, n_outputs], activations=activations,
                output=output, target=target, seed=draw(st.integers(0, 2**16)))


def build(arch, dtype="float32"):
    return fastmlp.MLP(arch["sizes"], arch["activations"], arch["output"], seed=arch["seed"],
                       dtype=dtype, slope=0.1)


def targets(arch, rng, n):
    n_outputs = arch["sizes"][-1]
    if arch["target"] == "labels":
        return rng.integers(0, n_outputs, n)
    if arch["target"] == "binary":
        return rng.integers(0, 2, (n, n_outputs)).astype(np.float64)
    return rng.standard_normal((n, n_outputs))


# --------------------------------------------------------------- batch independence

@PROPERTY
@given(architectures(max_width=48), st.integers(1, 300), st.integers(1, 64), st.booleans())
def test_row_by_row_equals_whole_batch(arch, n_rows, chunk, trained):
    model = build(arch)
    rng = np.random.default_rng(arch["seed"])
    X = rng.standard_normal((n_rows, arch["sizes"][0])).astype(np.float32)
    if trained:
        # Trained weights, not only the initial draw.
        model.fit(X, targets(arch, rng, n_rows), epochs=1, batch_size=chunk)
    whole = model.forward(X)
    by_row = np.vstack([model.forward(X[i:i + 1]) for i in range(n_rows)])
    chunked = np.vstack([model.forward(X[i:i + chunk]) for i in range(0, n_rows, chunk)])
    scale = np.max(np.abs(whole)) + np.finfo(np.float32).tiny
    for other in (by_row, chunked):
        assert other.shape == whole.shape
        # 1e-6 relative to each value, or to the output's scale for values near 0
        # (a sum that cancels to ~0 has no meaningful relative error).
        np.testing.assert_allclose(other, whole, rtol=1e-6, atol=1e-6 * scale)


def test_batch_larger_than_the_native_predict_chunk():
    """Predict works in chunks of 2048 rows; rows past a chunk edge are no different."""
    model = fastmlp.MLP([10, 16, 3], seed=0)
    X = np.random.default_rng(0).standard_normal((5000, 10)).astype(np.float32)
    whole = model.forward(X)
    for start in (0, 2047, 2048, 4095, 4999):
        np.testing.assert_allclose(model.forward(X[start:start + 1])[0], whole[start],
                                   rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------- gradients

def numerical_gradient(model, X, y, w, l2, eps=1e-6):
    params = model.params
    grad = np.empty_like(params)
    for i in range(params.size):
        saved = params[i]
        params[i] = saved + eps
        up = model.loss(X, y, sample_weight=w, l2=l2)
        params[i] = saved - eps
        down = model.loss(X, y, sample_weight=w, l2=l2)
        params[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


@PROPERTY
@given(architectures(max_width=6), st.integers(1, 12), st.booleans(),
       st.sampled_from([0.0, 0.3]))
def test_gradients_match_finite_differences(arch, n_rows, weighted, l2):
    model = build(arch, dtype="float64")
    rng = np.random.default_rng(arch["seed"] + 1)
    # Non-zero biases: with the initial zeros, a unit fed only by dead ReLUs
    # sits exactly on a kink, where finite differences measure nothing.
    for b in model.b:
        b[...] = rng.normal(0, 0.5, b.shape)
    X = rng.standard_normal((n_rows, arch["sizes"][0]))
    y = targets(arch, rng, n_rows)
    w = rng.uniform(0.1, 2.0, n_rows) if weighted else None
    loss, dW, db = model.gradients(X, y, sample_weight=w, l2=l2)
    analytic = np.concatenate([part.ravel() for pair in zip(dW, db) for part in pair])
    assert np.isclose(loss, model.loss(X, y, sample_weight=w, l2=l2), rtol=1e-12)
    numeric = numerical_gradient(model, X, y, w, l2)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)
