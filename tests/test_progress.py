"""The progress display within an epoch, callbacks, and the per-epoch history."""

import io

import numpy as np
import pytest

import fastmlp
from fastmlp._progress import EpochBar, bar_wanted, chunk_bounds, train_epoch_in_chunks
from fastmlp.callbacks import EarlyStopping

pytestmark = pytest.mark.usefixtures("one_thread")


def _data(n=203, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y % classes


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("batch_size", [1, 7, 64, None])
def test_chunked_epochs_give_bit_identical_weights(optimizer, batch_size, capsys):
    X, y = _data()
    fits = {}
    for shown in ("never", "always"):
        model = fastmlp.MLP([6, 9, 3], "tanh", seed=3)
        model.fit(X, y, epochs=3, batch_size=batch_size, optimizer=optimizer,
                  learning_rate=0.01, verbose=True, progress=shown)
        fits[shown] = model
    assert np.array_equal(fits["never"].params, fits["always"].params)
    # The losses are the same mean, summed in a different order.
    np.testing.assert_allclose(fits["never"].history["loss"], fits["always"].history["loss"],
                               rtol=1e-6)
    assert len(capsys.readouterr().out.splitlines()) == 6  # 3 epochs x 2 fits, one line each


def test_chunks_cover_the_order_on_batch_boundaries():
    for n, batch in [(1, 1), (10, 3), (1000, 7), (60000, 64), (5, 100)]:
        bounds = chunk_bounds(n, batch)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
        assert all((stop - start) % batch == 0 for start, stop in bounds[:-1])
        assert len(bounds) <= 40


def test_chunked_epoch_reports_row_weighted_loss_and_progress():
    X, y = _data(n=100)
    model = fastmlp.MLP([6, 3], "relu", seed=0)
    Y = np.eye(3, dtype=np.float32)[y]
    updates = []
    result = train_epoch_in_chunks(
        lambda part: model._net.train_epoch(X, Y, None, part, 8, "sgd", 0.0),
        np.arange(100), 8, on_chunk=lambda done, loss: updates.append((done, loss)),
        target_chunks=4)
    assert result["rows"] == 100 and result["batches"] == 13
    assert [done for done, _ in updates] == [4, 8, 12, 13]
    # learning rate 0: every slice sees the same weights, so the mean is the full loss
    np.testing.assert_allclose(result["loss"], model.loss(X, y), rtol=1e-5)


def test_plain_text_bar_when_tqdm_is_missing(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_tqdm(name, *args, **kwargs):
        if name.startswith("tqdm"):
            raise ImportError("no tqdm here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    stream = io.StringIO()
    bar = EpochBar(2, 5, n_batches=10, stream=stream)
    bar.update(10, 0.25)
    bar.close()
    assert "epoch 2/5" in stream.getvalue() and "10/10" in stream.getvalue()
    assert "loss 0.2500" in stream.getvalue()


def test_bar_is_automatic_only_on_a_terminal():
    assert not bar_wanted("auto", io.StringIO())
    assert bar_wanted("always", io.StringIO())
    assert not bar_wanted("never")
    with pytest.raises(ValueError, match="progress must be one of"):
        bar_wanted("sometimes")


def test_history_holds_every_metric_of_every_epoch():
    X, y = _data()
    model = fastmlp.MLP([6, 8, 3], "relu", seed=0)
    model.fit(X, y, epochs=4, validation_data=(X[:50], y[:50]), train_metrics=True,
              track_gradients=True)
    for key in ("epoch", "loss", "seconds", "train_score", "val_loss", "val_score",
                "grad_norms"):
        assert len(model.history[key]) == 4, key
    assert model.history["epoch"] == [1, 2, 3, 4]
    assert all(len(norms) == 2 and min(norms) > 0 for norms in model.history["grad_norms"])


def test_callbacks_see_the_metrics_and_can_stop_training():
    X, y = _data()
    seen = []

    def stop_at_third(model, metrics):
        seen.append(dict(metrics))
        return metrics["epoch"] == 3

    model = fastmlp.MLP([6, 3], seed=0).fit(X, y, epochs=10, callbacks=[stop_at_third])
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    assert model.history["epoch"] == [1, 2, 3]
    assert seen[-1]["loss"] == model.history["loss"][-1]


def test_early_stopping_restores_the_best_weights():
    X, y = _data()
    X_val, y_val = _data(seed=1)
    # A learning rate this large makes the validation loss bounce, so it stops early.
    stopper = EarlyStopping("val_loss", patience=2)
    snapshots = []
    model = fastmlp.MLP([6, 16, 3], "relu", seed=0)
    model.fit(X, y, epochs=60, optimizer="sgd", learning_rate=2.0, validation_data=(X_val, y_val),
              callbacks=[lambda m, metrics: snapshots.append(np.array(m.params)), stopper])
    assert stopper.stopped_epoch is not None and stopper.stopped_epoch < 60
    assert stopper.best == min(model.history["val_loss"])
    np.testing.assert_array_equal(model.params, snapshots[stopper.best_epoch - 1])


def test_early_stopping_names_the_missing_metric():
    X, y = _data()
    with pytest.raises(ValueError, match="val_loss.*validation_data"):
        fastmlp.MLP([6, 3]).fit(X, y, epochs=2, callbacks=[EarlyStopping()])


def test_tracking_gradients_leaves_training_unchanged():
    X, y = _data(n=400)
    plain = fastmlp.MLP([6, 8, 3], seed=5).fit(X, y, epochs=3)
    tracked = fastmlp.MLP([6, 8, 3], seed=5).fit(X, y, epochs=3, track_gradients=True)
    assert np.array_equal(plain.params, tracked.params)


def test_a_diverging_chunked_epoch_keeps_the_weights_from_the_epoch_start():
    X, y = _data(n=400)
    X = X * 1e3
    model = fastmlp.MLP([6, 32, 3], "relu", seed=0)
    before = np.array(model.params)
    with pytest.raises(fastmlp.TrainingDivergedError, match="epoch 1"):
        model.fit(X, y, epochs=3, batch_size=4, learning_rate=50.0, verbose=True,
                  progress="always")
    np.testing.assert_array_equal(model.params, before)
