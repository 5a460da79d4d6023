"""Dropout: inverted dropout of the hidden units in the native training loop.

Masks come from the model's seed, the step and each unit's place in the
batch: the same seed trains the same weights, whatever the thread count;
prediction uses every unit; backpropagation through fixed masks matches
finite differences in float64.
"""

import pickle

import numpy as np
import pytest

import fastmlp


def blobs(n=256, features=8, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features))
    y = np.argmax(X[:, :classes] + 0.3 * rng.normal(size=(n, classes)), axis=1)
    return X, y


# Smooth activations: a finite difference across a ReLU kink is not its derivative.
@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus"])
def test_backpropagation_through_fixed_masks_matches_finite_differences(activation):
    X, y = blobs(n=40, features=5)
    model = fastmlp.MLP([5, 9, 7, 3], activation, "softmax", dtype="float64", seed=2,
                        dropout=[0.4, 0.25])
    Xn, Y = model.prepare_features(X), np.eye(3)[y]
    loss, grads = model.gradients_prepared(Xn, Y, l2=0.01, dropout_step=7)
    analytic = np.array(grads, copy=True)
    params, eps = model.params, 1e-6
    numeric = np.empty_like(analytic)
    for i in range(params.size):
        kept = params[i]
        params[i] = kept + eps
        up, _ = model.gradients_prepared(Xn, Y, l2=0.01, dropout_step=7)
        params[i] = kept - eps
        down, _ = model.gradients_prepared(Xn, Y, l2=0.01, dropout_step=7)
        params[i] = kept
        numeric[i] = (up - down) / (2 * eps)
    assert np.max(np.abs(numeric - analytic)) <= 1e-6 * max(1.0, np.max(np.abs(analytic)))
    # the masks matter: another step's masks, or none, give another loss
    other, _ = model.gradients_prepared(Xn, Y, l2=0.01, dropout_step=8)
    plain, _ = model.gradients_prepared(Xn, Y, l2=0.01)
    assert loss != other and loss != plain


def test_the_same_seed_trains_the_same_weights_on_one_and_two_threads():
    X, y = blobs(n=600, features=40)
    trained = []
    previous = fastmlp.get_num_threads()
    try:
        for threads in (1, 2, 1):
            fastmlp.set_num_threads(threads)
            model = fastmlp.MLP([40, 300, 200, 3], "relu", "softmax", seed=5, dropout=[0.5, 0.2])
            model.fit(X, y, epochs=2, batch_size=200, optimizer="adam", learning_rate=0.01)
            trained.append(np.array(model.params, copy=True))
    finally:
        fastmlp.set_num_threads(previous)
    assert np.array_equal(trained[0], trained[1]) and np.array_equal(trained[0], trained[2])
    other = fastmlp.MLP([40, 300, 200, 3], "relu", "softmax", seed=6, dropout=[0.5, 0.2])
    other.fit(X, y, epochs=2, batch_size=200, optimizer="adam", learning_rate=0.01)
    assert not np.array_equal(other.params, trained[0])


def test_dropout_changes_training_and_prediction_uses_every_unit():
    X, y = blobs()
    plain = fastmlp.MLP([8, 32, 3], "relu", "softmax", seed=1)
    dropped = fastmlp.MLP([8, 32, 3], "relu", "softmax", seed=1, dropout=0.5)
    np.testing.assert_array_equal(plain.params, dropped.params)  # same initial weights
    for model in (plain, dropped):
        model.fit(X, y, epochs=3, batch_size=16, shuffle=False)
    assert not np.allclose(plain.params, dropped.params)
    twin = fastmlp.MLP([8, 32, 3], "relu", "softmax", seed=1)
    twin.params[...] = dropped.params
    first = dropped.predict_proba(X)
    np.testing.assert_array_equal(first, dropped.predict_proba(X))
    np.testing.assert_array_equal(first, twin.predict_proba(X))
    assert dropped.loss(X, y) == twin.loss(X, y)


def test_batch_size_one_trains_with_dropout_too():
    X, y = blobs(n=50)
    a = fastmlp.MLP([8, 16, 3], "tanh", "softmax", seed=3, dropout=0.3).fit(X, y, epochs=2,
                                                                             batch_size=1)
    b = fastmlp.MLP([8, 16, 3], "tanh", "softmax", seed=3).fit(X, y, epochs=2, batch_size=1)
    assert np.all(np.isfinite(a.params)) and not np.allclose(a.params, b.params)


def test_a_model_without_dropout_trains_as_before():
    X, y = blobs()
    a = fastmlp.MLP([8, 16, 3], seed=4).fit(X, y, epochs=2)
    b = fastmlp.MLP([8, 16, 3], seed=4, dropout=0.0).fit(X, y, epochs=2)
    np.testing.assert_array_equal(a.params, b.params)
    assert a.dropout == (0.0,)


@pytest.mark.parametrize("dropout, error, match", [
    (1.0, ValueError, r"dropout rates must be in \[0, 1\), got 1.0"),
    (-0.1, ValueError, r"dropout rates must be in \[0, 1\), got -0.1"),
    ([0.1], ValueError, r"dropout needs one rate per hidden layer \(2\), got 1"),
    ("half", TypeError, r"dropout must be a rate or one rate per hidden layer, got 'half'"),
    ([0.1, None], TypeError, r"dropout must be a rate or one rate per hidden layer"),
])
def test_bad_dropout_is_refused(dropout, error, match):
    with pytest.raises(error, match=match):
        fastmlp.MLP([4, 5, 5, 2], dropout=dropout)


def test_dropout_needs_a_hidden_layer():
    with pytest.raises(ValueError, match="dropout acts on hidden layers, and this network has none"):
        fastmlp.MLP([4, 2], dropout=0.5)


def test_model_files_and_pickles_keep_dropout(tmp_path):
    X, y = blobs()
    model = fastmlp.MLP([8, 16, 16, 3], seed=7, dropout=[0.3, 0.1]).fit(X, y, epochs=1)
    fastmlp.save(model, tmp_path / "m.fastmlp")
    for copy in (fastmlp.load(tmp_path / "m.fastmlp"), pickle.loads(pickle.dumps(model))):
        assert copy.dropout == (0.3, 0.1)
        np.testing.assert_array_equal(copy.predict_proba(X), model.predict_proba(X))
        # training on from the copy draws the same masks as from the original
        copy.fit(X, y, epochs=1, shuffle=False)
    again = pickle.loads(pickle.dumps(model)).fit(X, y, epochs=1, shuffle=False)
    model.fit(X, y, epochs=1, shuffle=False)
    np.testing.assert_array_equal(again.params, model.params)


def test_a_file_without_dropout_keeps_its_bytes():
    model = fastmlp.MLP([4, 3, 2], seed=0)
    assert b"dropout" not in fastmlp.io.dumps(model)


def test_estimators_take_dropout(quiet_one_thread):
    X, y = blobs()
    clf = fastmlp.MLPClassifier((16, 8), dropout=[0.2, 0.1], max_iter=5, random_state=0).fit(X, y)
    assert clf._model.dropout == (0.2, 0.1) and clf.get_params()["dropout"] == [0.2, 0.1]
    plain = fastmlp.MLPClassifier((16, 8), max_iter=5, random_state=0).fit(X, y)
    assert not np.allclose(clf.coefs_[0], plain.coefs_[0])
    reg = fastmlp.MLPRegressor(hidden_layer_sizes=(16,), dropout=0.2, max_iter=5,
                               random_state=0).fit(X, X[:, 0])
    assert reg._model.dropout == (0.2,)
    with pytest.raises(ValueError, match=r"dropout=0.2 needs a stochastic solver \('sgd' or 'adam'\)"):
        fastmlp.MLPClassifier((4,), dropout=0.2, solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match=r"dropout needs one rate per hidden layer \(1\), got 2"):
        fastmlp.MLPClassifier((4,), dropout=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="The 'dropout' parameter of MLPClassifier must be"):
        fastmlp.MLPClassifier((4,), dropout=1.5).fit(X, y)
