"""The model API: structure, forward pass, normalization, batch plans, threads."""

import numpy as np
import pytest

import fastmlp
from fastmlp import MLP


def numpy_forward(model, X):
    """The plain numpy twin of the native forward pass."""
    acts = {
        "relu": lambda z: np.maximum(z, 0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
        "identity": lambda z: z,
        "softmax": lambda z: np.exp(z - z.max(1, keepdims=True))
        / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
    }
    a = X.astype(np.float64)
    zs, activations = [], []
    for W, b, g in zip(model.W, model.b, model.activations):
        z = a @ W.astype(np.float64) + b
        a = acts[g](z)
        zs.append(z)
        activations.append(a)
    return zs, activations


def test_summary_counts_logistic_regression_parameters():
    single = MLP([32 * 32 * 3, 1], output="sigmoid")
    assert single.n_params == 3073
    three = MLP([32 * 32 * 3, 3], output="sigmoid")
    assert three.n_params == 3 * 3073
    text = three.summary(print_fn=None)
    assert "3072 x 3" in text and "9,219" in text


def test_summary_lists_every_layer():
    model = MLP([784, 256, 128, 10])
    text = model.summary(print_fn=None)
    for shape, count in [("784 x 256", "200,960"), ("256 x 128", "32,896"), ("128 x 10", "1,290")]:
        assert shape in text and count in text
    assert "235,146" in text


@pytest.mark.parametrize("rows", [1, 3, 17, 33, 257])
@pytest.mark.parametrize("sizes", [[7, 1], [5, 17, 3], [33, 3, 17, 2]])
def test_forward_matches_numpy_twin(rows, sizes):
    rng = np.random.default_rng(rows)
    model = MLP(sizes, activation="tanh", output="softmax" if sizes[-1] > 1 else "sigmoid", seed=0)
    for b in model.b:
        b[...] = rng.normal(size=b.shape)
    X = rng.normal(size=(rows, sizes[0])).astype(np.float32)
    zs, acts = model.forward(X, return_all=True)
    ref_zs, ref_acts = numpy_forward(model, X)
    for got, want in zip(zs + acts, ref_zs + ref_acts):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.forward(X), ref_acts[-1], rtol=1e-4, atol=1e-6)


def test_weights_are_live_views():
    model = MLP([2, 2], output="identity", seed=0)
    model.W[0][...] = [[1, 2], [3, 4]]
    model.b[0][...] = [10, 20]
    out = model.forward(np.array([[1.0, 1.0]]))
    np.testing.assert_allclose(out, [[14, 26]])


@pytest.mark.parametrize("scheme,activation,std", [
    ("lecun", "tanh", np.sqrt(1 / 400)),
    ("he", "relu", np.sqrt(2 / 400)),
    ("glorot", "tanh", np.sqrt(6 / 700) / np.sqrt(3)),
    (None, "relu", np.sqrt(2 / 400)),
    (None, "sigmoid", np.sqrt(1 / 400)),
])
def test_initialization_scales(scheme, activation, std):
    model = MLP([400, 300, 2], activation=activation, init=scheme, seed=0)
    assert np.std(model.W[0]) == pytest.approx(std, rel=0.03)
    assert np.all(model.b[0] == 0)


def test_same_seed_same_weights_bit_for_bit():
    X = np.random.default_rng(0).normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    first = MLP([6, 8, 2], seed=42).fit(X, y, epochs=3, batch_size=16)
    second = MLP([6, 8, 2], seed=42).fit(X, y, epochs=3, batch_size=16)
    assert first.params.tobytes() == second.params.tobytes()
    other = MLP([6, 8, 2], seed=43).fit(X, y, epochs=3, batch_size=16)
    assert first.params.tobytes() != other.params.tobytes()


@pytest.mark.parametrize("kind", ["zscore", "minmax"])
def test_normalization_is_fitted_on_training_data_and_reused(kind):
    rng = np.random.default_rng(1)
    X = rng.normal(loc=50, scale=10, size=(300, 4)).astype(np.float32)
    y = (X[:, 0] > 50).astype(int)
    model = MLP([4, 2], output="softmax", normalize=kind, seed=0).fit(X, y, epochs=1)
    stats = model.normalizer
    if kind == "zscore":
        np.testing.assert_allclose(stats.offset_, X.mean(0), rtol=1e-5)
        np.testing.assert_allclose(1 / stats.scale_, X.std(0), rtol=1e-4)
    else:
        np.testing.assert_allclose(stats.offset_, X.min(0))
        np.testing.assert_allclose(1 / stats.scale_, X.max(0) - X.min(0), rtol=1e-5)
    # predict applies the stored statistics: same as a raw model on normalized input
    raw = MLP([4, 2], output="softmax", seed=0)
    raw.params[...] = model.params
    normalized = (X - stats.offset_) * stats.scale_
    np.testing.assert_allclose(model.predict_proba(X), raw.predict_proba(normalized), rtol=1e-5)
    # a second fit keeps the first statistics
    model.fit(X + 100, y, epochs=1)
    np.testing.assert_allclose(model.normalizer.offset_, stats.offset_)


def test_uint8_input_takes_the_fused_path():
    X = np.random.default_rng(0).integers(0, 256, (50, 8), dtype=np.uint8)
    model = MLP([8, 3], normalize="minmax", seed=0)
    model.fit(X, np.arange(50) % 3, epochs=1)
    as_float = X.astype(np.float32)
    np.testing.assert_allclose(model.predict_proba(X), model.predict_proba(as_float), rtol=1e-6)


@pytest.mark.parametrize("batch_size,updates", [(None, 1), (1, 40), (16, 3), (40, 1), (1000, 1)])
def test_batch_plan_gives_the_number_of_updates(batch_size, updates):
    X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    y = np.arange(40) % 2
    model = MLP([3, 2], seed=0)
    model.fit(X, y, epochs=1, batch_size=batch_size)
    assert model._net.step_count == updates


def test_full_batch_step_is_one_gradient_step():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, 30)
    model = MLP([4, 5, 3], activation="tanh", seed=0, dtype="float64")
    before = model.params.copy()
    _, dW, db = model.gradients(X, y)
    model.fit(X, y, epochs=1, batch_size=None, optimizer="sgd", learning_rate=0.1, shuffle=False)
    for l in range(2):
        start = model._net.w_offset(l)
        W_before = before[start:start + dW[l].size].reshape(dW[l].shape)
        np.testing.assert_allclose(model.W[l], W_before - 0.1 * dW[l], rtol=1e-12)


def test_threads_can_be_set_and_read():
    original = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        assert fastmlp.get_num_threads() == 1
        with pytest.raises(ValueError, match=">= 1"):
            fastmlp.set_num_threads(0)
    finally:
        fastmlp.set_num_threads(original)


def test_training_is_identical_for_one_and_two_threads():
    # Wide enough that every threaded pass takes its parallel branch: the row
    # gather (128 x 600), bias + activation, derivatives and bias sums (128 x 520).
    X = np.random.default_rng(0).normal(size=(600, 600)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 4, 600)
    original = fastmlp.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            fastmlp.set_num_threads(threads)
            model = MLP([600, 520, 32, 4], seed=7).fit(X, y, epochs=2, batch_size=128)
            results.append(model.params.tobytes())
    finally:
        fastmlp.set_num_threads(original)
    assert results[0] == results[1]


def test_predict_maps_outputs_to_labels():
    X = np.array([[1.0], [-1.0]])
    softmax = MLP([1, 2], output="softmax", seed=0)
    softmax.W[0][...] = [[-1.0, 1.0]]
    np.testing.assert_array_equal(softmax.predict(X), [1, 0])
    sigmoid = MLP([1, 1], output="sigmoid", seed=0)
    sigmoid.W[0][...] = [[1.0]]
    np.testing.assert_array_equal(sigmoid.predict(X), [1, 0])
    regression = MLP([1, 1], output="identity", seed=0)
    regression.W[0][...] = [[2.0]]
    np.testing.assert_allclose(regression.predict(X), [2.0, -2.0])
