"""Callbacks and schedules for MLP.fit, and training that survives being killed."""

import csv
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastmlp
from fastmlp.callbacks import (
    BackupAndRestore,
    Callback,
    CosineDecay,
    CSVLogger,
    EarlyStopping,
    ExponentialDecay,
    History,
    LearningRateScheduler,
    LinearWarmUp,
    ModelCheckpoint,
    ReduceLROnPlateau,
    StepDecay,
)


def _data(n=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)
    return X, y


def _model(sizes=(6, 8, 3), **kwargs):
    return fastmlp.MLP(list(sizes), "tanh", seed=3, **kwargs)


class Script(Callback):
    """Overwrites one metric with scripted values before later callbacks see it."""

    def __init__(self, key, values):
        self.key, self.values = key, values

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch - 1]


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch, self.learning_rate))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, logs["lr"]))

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


# --------------------------------------------------------------- hooks and History

def test_callback_hooks_run_in_order_next_to_plain_callables():
    X, y = _data()
    recorder, seen = Recorder(), []
    model = _model().fit(X, y, epochs=3, learning_rate=0.05,
                         callbacks=[recorder, lambda m, metrics: seen.append(dict(metrics))])
    assert recorder.calls == [("train_begin",),
                              ("epoch_begin", 1, 0.05), ("epoch_end", 1, 0.05),
                              ("epoch_begin", 2, 0.05), ("epoch_end", 2, 0.05),
                              ("epoch_begin", 3, 0.05), ("epoch_end", 3, 0.05),
                              ("train_end",)]
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    assert [m["lr"] for m in seen] == [0.05] * 3
    assert recorder.model is model


def test_on_epoch_end_returning_true_or_stop_training_stops():
    X, y = _data()

    class StopAt(Callback):
        def __init__(self, epoch, use_flag):
            self.epoch, self.use_flag = epoch, use_flag

        def on_epoch_end(self, epoch, logs=None):
            if epoch == self.epoch:
                if self.use_flag:
                    self.model.stop_training = True
                    return None
                return True
            return None

    seen = []
    model = _model().fit(X, y, epochs=9, callbacks=[StopAt(2, False),
                                                    lambda m, metrics: seen.append(metrics)])
    assert model.history["epoch"] == [1, 2]
    assert len(seen) == 2  # every callback runs at the epoch that stops
    model = _model().fit(X, y, epochs=9, callbacks=[StopAt(4, True)])
    assert model.history["epoch"] == [1, 2, 3, 4]
    # The flag starts over with every fit.
    model.fit(X, y, epochs=2)
    assert model.history["epoch"] == [1, 2]


def test_history_is_a_dict_of_lists_with_epoch_and_params_and_fit_chains():
    X, y = _data()
    score = _model().fit(X, y, epochs=3, batch_size=16, optimizer="adam",
                         learning_rate=0.01).score(X, y)
    assert 0 <= score <= 1
    model = _model().fit(X, y, epochs=3, batch_size=16, validation_data=(X[:40], y[:40]))
    history = model.history
    assert isinstance(history, History) and isinstance(history, dict)
    assert history.epoch == [1, 2, 3] == history["epoch"]
    assert set(history) == {"epoch", "loss", "seconds", "val_loss", "val_score", "lr"}
    assert all(len(values) == 3 for values in history.values())
    assert history["lr"] == [0.01] * 3
    assert history.params == {"epochs": 3, "batch_size": 16, "steps": 15, "samples": 240,
                              "optimizer": "sgd", "learning_rate": 0.01, "verbose": False}


def test_a_history_passed_as_a_callback_records_the_same_numbers():
    X, y = _data()
    mine = History()
    model = _model().fit(X, y, epochs=3, callbacks=[mine])
    assert dict(mine) == dict(model.history)
    assert mine.params["epochs"] == 3


# --------------------------------------------------------------- schedules

def test_learning_rate_scheduler_sees_the_rate_in_effect_and_sets_the_next():
    X, y = _data()
    calls = []

    def halve_after_two(epoch, lr):
        calls.append((epoch, lr))
        return lr if epoch <= 2 else lr / 2

    model = _model().fit(X, y, epochs=5, learning_rate=0.08,
                         callbacks=[LearningRateScheduler(halve_after_two)])
    assert calls == [(1, 0.08), (2, 0.08), (3, 0.08), (4, 0.04), (5, 0.02)]
    assert model.history["lr"] == [0.08, 0.08, 0.04, 0.02, 0.01]


def test_the_scheduled_rate_is_the_rate_the_native_epoch_runs_with():
    # Plain SGD keeps no optimizer state, and the epoch-order generator goes on
    # across fits: epochs at rates a, b, c in one fit equal three one-epoch fits.
    X, y = _data()
    rates = [0.2, 0.05, 0.01]
    scheduled = _model().fit(X, y, epochs=3, optimizer="sgd", callbacks=[
        LearningRateScheduler(lambda epoch, lr: rates[epoch - 1])])
    stepwise = _model()
    for rate in rates:
        stepwise.fit(X, y, epochs=1, optimizer="sgd", learning_rate=rate)
    np.testing.assert_array_equal(scheduled.params, stepwise.params)
    constant = _model().fit(X, y, epochs=3, optimizer="sgd", learning_rate=0.2)
    assert not np.array_equal(scheduled.params, constant.params)


def _rates(schedule, epochs):
    return [schedule(epoch, None) for epoch in range(1, epochs + 1)]


def test_step_decay_follows_its_formula():
    assert _rates(StepDecay(0.1, factor=0.5, every=3), 7) == [
        0.1 * 0.5 ** ((e - 1) // 3) for e in range(1, 8)]
    assert _rates(StepDecay(0.1, factor=0.5, every=3), 7)[3] == 0.05


def test_exponential_decay_follows_its_formula():
    smooth = ExponentialDecay(0.1, 0.5, decay_epochs=2)
    assert _rates(smooth, 5) == [0.1 * 0.5 ** ((e - 1) / 2) for e in range(1, 6)]
    assert smooth(3) == pytest.approx(0.05)
    stairs = ExponentialDecay(0.1, 0.5, decay_epochs=2, staircase=True)
    assert _rates(stairs, 5) == [0.1, 0.1, 0.05, 0.05, 0.025]


def test_cosine_decay_follows_keras_formula_with_and_without_warm_up():
    plain = CosineDecay(0.1, decay_epochs=4, alpha=0.1)
    expected = [0.1 * (0.9 * 0.5 * (1 + math.cos(math.pi * min(e - 1, 4) / 4)) + 0.1)
                for e in range(1, 8)]
    assert _rates(plain, 7) == pytest.approx(expected, rel=1e-15)
    assert plain(1) == pytest.approx(0.1) and plain(5) == pytest.approx(0.01)
    assert plain(7) == pytest.approx(0.01)  # stays at alpha * rate after decay_epochs
    warm = CosineDecay(0.0, decay_epochs=2, warmup_target=0.2, warmup_epochs=4)
    assert _rates(warm, 7) == pytest.approx([0.0, 0.05, 0.1, 0.15, 0.2, 0.1, 0.0], abs=1e-15)


def test_linear_warm_up_reaches_the_target_then_hands_over():
    assert _rates(LinearWarmUp(0.3, 3), 5) == pytest.approx([0.1, 0.2, 0.3, 0.3, 0.3])
    then = StepDecay(0.3, factor=0.1, every=1)
    assert _rates(LinearWarmUp(0.3, 2, then=then), 5) == pytest.approx(
        [0.15, 0.3, 0.3, 0.03, 0.003])


def test_a_ready_schedule_drives_a_fit():
    X, y = _data()
    schedule = CosineDecay(0.1, decay_epochs=4)
    model = _model().fit(X, y, epochs=4, callbacks=[LearningRateScheduler(schedule)])
    assert model.history["lr"] == _rates(schedule, 4)


def test_reduce_lr_on_plateau_follows_keras_rules():
    X, y = _data()
    scripted = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5, 0.6]
    # epoch 4: two epochs without improvement -> halve; epoch 5: cooldown (wait
    # stays 0, then counts once the cooldown is over); epoch 6: halve again.
    reduce = ReduceLROnPlateau("val_loss", factor=0.5, patience=2, min_delta=0.0, cooldown=1)
    model = _model().fit(X, y, epochs=8, learning_rate=0.1, validation_data=(X[:40], y[:40]),
                         callbacks=[Script("val_loss", scripted), reduce])
    assert model.history["lr"] == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]
    assert reduce.best == 0.5
    floor = ReduceLROnPlateau("val_loss", factor=0.5, patience=2, min_delta=0.0, cooldown=1,
                              min_lr=0.04)
    model = _model().fit(X, y, epochs=8, learning_rate=0.1, validation_data=(X[:40], y[:40]),
                         callbacks=[Script("val_loss", scripted), floor])
    assert model.history["lr"] == [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.04, 0.04]


def test_reduce_lr_on_plateau_counts_min_delta():
    X, y = _data()
    scripted = [1.0, 0.95, 0.9, 0.85, 0.8]  # improves by 0.05 < min_delta each time
    reduce = ReduceLROnPlateau("loss", factor=0.5, patience=2, min_delta=0.1)
    model = _model().fit(X, y, epochs=5, learning_rate=0.1,
                         callbacks=[Script("loss", scripted), reduce])
    assert model.history["lr"] == [0.1, 0.1, 0.1, 0.05, 0.05]


# --------------------------------------------------------------- files

def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    X, y = _data()
    path = tmp_path / "log.csv"
    model = _model().fit(X, y, epochs=4, validation_data=(X[:40], y[:40]),
                         callbacks=[LearningRateScheduler(StepDecay(0.1, 0.5, 2)),
                                    CSVLogger(path)])
    with open(path, newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == ["epoch", "loss", "seconds", "val_loss", "val_score", "lr"]
    assert len(rows) == 5
    for i, row in enumerate(rows[1:]):
        values = dict(zip(rows[0], row))
        assert int(values["epoch"]) == i + 1
        for key in ("loss", "val_loss", "val_score", "lr"):
            assert float(values[key]) == model.history[key][i], key
    assert [float(r[-1]) for r in rows[1:]] == [0.1, 0.1, 0.05, 0.05]


def test_csv_logger_starts_over_or_appends(tmp_path):
    X, y = _data()
    path = tmp_path / "log.csv"
    path.write_text("stale\n")
    _model().fit(X, y, epochs=2, callbacks=[CSVLogger(path)])
    assert path.read_text().splitlines()[0] == "epoch,loss,seconds,lr"
    assert len(path.read_text().splitlines()) == 3
    _model().fit(X, y, epochs=3, callbacks=[CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and lines.count("epoch,loss,seconds,lr") == 1
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2", "1", "2", "3"]


def test_model_checkpoint_saves_only_improvements_and_the_files_load(tmp_path):
    X, y = _data()
    scripted = [0.9, 0.7, 0.8, 0.6, 0.65]
    snapshots = []
    checkpoint = ModelCheckpoint(tmp_path / "model-{epoch:02d}.fastmlp", monitor="val_loss")
    _model().fit(X, y, epochs=5, validation_data=(X[:40], y[:40]),
                 callbacks=[Script("val_loss", scripted), checkpoint,
                            lambda m, metrics: snapshots.append(np.array(m.params))])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["model-01.fastmlp", "model-02.fastmlp", "model-04.fastmlp"]
    assert checkpoint.best == 0.6
    for epoch in (1, 2, 4):
        loaded = fastmlp.load(tmp_path / f"model-{epoch:02d}.fastmlp")
        assert isinstance(loaded, fastmlp.MLP)
        np.testing.assert_array_equal(loaded.params, snapshots[epoch - 1])


def test_model_checkpoint_every_epoch_overwrites_one_file(tmp_path):
    X, y = _data()
    model = _model().fit(X, y, epochs=3, callbacks=[
        ModelCheckpoint(tmp_path / "last.fastmlp", save_best_only=False)])
    assert [p.name for p in tmp_path.iterdir()] == ["last.fastmlp"]
    np.testing.assert_array_equal(fastmlp.load(tmp_path / "last.fastmlp").params, model.params)


def test_model_checkpoint_monitoring_score_keeps_the_highest(tmp_path):
    X, y = _data()
    checkpoint = ModelCheckpoint(tmp_path / "best.fastmlp", monitor="val_score")
    _model().fit(X, y, epochs=4, validation_data=(X[:40], y[:40]),
                 callbacks=[Script("val_score", [0.5, 0.4, 0.7, 0.6]), checkpoint])
    assert checkpoint.best == 0.7 and len(checkpoint.saved) == 2


# --------------------------------------------------------------- bad input

@pytest.mark.parametrize("returned, shown", [(-0.1, "-0.1"), (float("nan"), "nan"),
                                             (float("inf"), "inf"), ("fast", "'fast'"),
                                             (None, "None")])
def test_a_schedule_returning_a_bad_rate_stops_before_that_epoch(returned, shown):
    X, y = _data()
    schedule = LearningRateScheduler(lambda epoch, lr: returned if epoch == 3 else lr)
    model = _model()
    with pytest.raises(ValueError, match=r"at epoch 3: expected a finite learning rate >= 0, "
                                         rf"got {shown}"):
        model.fit(X, y, epochs=5, callbacks=[schedule])
    # The model keeps the weights of the last complete epoch.
    assert model.history["epoch"] == [1, 2]
    np.testing.assert_array_equal(model.params, _model().fit(X, y, epochs=2).params)


def test_a_checkpoint_folder_that_does_not_exist_is_refused_before_training(tmp_path):
    X, y = _data()
    model = _model()
    before = np.array(model.params)
    missing = tmp_path / "no such folder" / "best.fastmlp"
    with pytest.raises(FileNotFoundError, match=r"expected an existing folder, got .*no such "
                                                r"folder"):
        model.fit(X, y, epochs=3, validation_data=(X[:40], y[:40]),
                  callbacks=[ModelCheckpoint(missing)])
    np.testing.assert_array_equal(model.params, before)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FileNotFoundError, match="expected an existing folder"):
        model.fit(X, y, epochs=3, callbacks=[CSVLogger(missing.with_suffix(".csv"))])
    with pytest.raises(FileNotFoundError, match=r"expected its parent .* to be an existing"):
        model.fit(X, y, epochs=3, callbacks=[BackupAndRestore(missing)])
    assert list(tmp_path.iterdir()) == []


def test_a_monitor_the_fit_does_not_compute_is_named():
    X, y = _data()
    for callback in (ReduceLROnPlateau(), ModelCheckpoint("unused.fastmlp")):
        with pytest.raises(ValueError, match=r"monitors 'val_loss'.*validation_data"):
            _model().fit(X, y, epochs=2, callbacks=[callback])


@pytest.mark.parametrize("make, message", [
    (lambda: ReduceLROnPlateau(factor=1.5), r"factor must be in \(0.0, 1.0\), got 1.5"),
    (lambda: ReduceLROnPlateau(patience=0), "patience must be a positive integer, got 0"),
    (lambda: ReduceLROnPlateau(mode="up"), "mode must be 'auto', 'min' or 'max', got 'up'"),
    (lambda: StepDecay(-1.0), "expected a finite learning rate >= 0, got -1.0"),
    (lambda: CosineDecay(0.1, decay_epochs=0), "decay_epochs must be a positive integer"),
    (lambda: ExponentialDecay(0.1, 0.0), r"decay_rate must be in \(0.0, inf"),
    (lambda: LinearWarmUp(0.1, 2, then=3), "then must be a schedule"),
    (lambda: CSVLogger("log.csv", separator=";;"), "separator must be one character"),
])
def test_bad_callback_arguments_are_refused(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_a_callbacks_entry_that_is_not_a_callback_is_refused():
    X, y = _data()
    with pytest.raises(TypeError, match=r"callbacks\[1\] must be a Callback or a callable "
                                        r"f\(model, metrics\), got int"):
        _model().fit(X, y, epochs=1, callbacks=[EarlyStopping("loss"), 5])
    with pytest.raises(TypeError, match="got a single EarlyStopping"):
        _model().fit(X, y, epochs=1, callbacks=EarlyStopping("loss"))


def test_the_learning_rate_exists_only_during_a_fit():
    with pytest.raises(RuntimeError, match=r"only during MLP\.fit"):
        _ = Recorder().learning_rate


# --------------------------------------------------------------- training state

def test_training_state_round_trips_and_is_checked():
    X, y = _data()
    model = _model().fit(X, y, epochs=2, optimizer="adam")
    state = model.training_state()
    assert state["step_count"] == 16
    twin = _model()
    twin.set_training_state(state)
    np.testing.assert_array_equal(twin.params, model.params)
    assert twin.training_state()["step_count"] == 16
    for mine, theirs in zip(twin.training_state()["optimizer_state"], state["optimizer_state"]):
        np.testing.assert_array_equal(mine, theirs)
    before = np.array(twin.params)
    bad = dict(state, optimizer_state=(state["params"][:-1], state["params"]))
    with pytest.raises(ValueError, match=r"optimizer_state\[0\] must be float32 of shape "
                                         r"\(83,\), got float32 of shape \(82,\)"):
        twin.set_training_state(bad)
    with pytest.raises(ValueError, match="step_count must be an integer >= 0, got -1"):
        twin.set_training_state(dict(state, step_count=-1))
    with pytest.raises(ValueError, match="needs exactly the keys"):
        twin.set_training_state({"params": state["params"]})
    np.testing.assert_array_equal(twin.params, before)


# --------------------------------------------------------------- backup and restore

def _resumable_callbacks(folder, log):
    return [BackupAndRestore(folder), CSVLogger(log),
            ReduceLROnPlateau("val_loss", factor=0.5, patience=1, min_delta=0.1),
            EarlyStopping("val_loss", patience=20)]


def _fit_resumable(folder, log, extra=(), epochs=7):
    X, y = _data()
    model = _model(normalize="zscore")
    return model.fit(X, y, epochs=epochs, optimizer="adam", batch_size=16,
                     learning_rate=0.02, validation_data=(X[:40], y[:40]),
                     callbacks=_resumable_callbacks(folder, log) + list(extra))


class Failure(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError(f"failure at epoch {epoch}")


def test_a_fit_that_failed_resumes_after_its_last_complete_epoch(tmp_path):
    reference = _fit_resumable(tmp_path / "ref", tmp_path / "ref.csv")
    assert not (tmp_path / "ref" / "training_state.npz").exists()  # deleted at the end
    with pytest.raises(RuntimeError, match="failure at epoch 6"):
        _fit_resumable(tmp_path / "backup", tmp_path / "log.csv", extra=[Failure(6)])
    assert (tmp_path / "backup" / "training_state.npz").exists()
    resumed = _fit_resumable(tmp_path / "backup", tmp_path / "log.csv")
    np.testing.assert_array_equal(resumed.params, reference.params)
    for key in ("epoch", "loss", "val_loss", "lr"):
        assert resumed.history[key] == reference.history[key], key
    assert resumed.history["epoch"] == list(range(1, 8))
    # The plateau rule lowered the rate before the failure, so the backup held it.
    assert reference.history["lr"][:6] == [0.02] * 4 + [0.01, 0.005]
    with open(tmp_path / "log.csv") as a, open(tmp_path / "ref.csv") as b:
        rows, expected = list(csv.reader(a)), list(csv.reader(b))
    assert [r[0] for r in rows] == [r[0] for r in expected]
    assert [r[1] for r in rows] == [r[1] for r in expected]
    assert not (tmp_path / "backup" / "training_state.npz").exists()


def test_delete_checkpoint_false_keeps_the_last_backup(tmp_path):
    X, y = _data()
    _model().fit(X, y, epochs=2, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert (tmp_path / "training_state.npz").exists()
    # A finished backup resumes to the end: nothing left to train.
    again = _model()
    again.fit(X, y, epochs=2, callbacks=[BackupAndRestore(tmp_path)])
    np.testing.assert_array_equal(again.params, _model().fit(X, y, epochs=2).params)
    assert again.history["epoch"] == [1, 2]


def test_a_backup_of_another_model_or_data_is_refused(tmp_path):
    X, y = _data()
    with pytest.raises(RuntimeError):
        _model().fit(X, y, epochs=4, callbacks=[BackupAndRestore(tmp_path), Failure(3)])
    cases = [
        (_model((6, 5, 3)), X, y, r"layer_sizes: the backup has \[6, 8, 3\], this fit "
                                  r"\[6, 5, 3\]"),
        (_model(dtype="float64"), X, y, "dtype: the backup has 'float32', this fit 'float64'"),
        (_model(), X[:200], y[:200], "data_rows: the backup has 240, this fit 200"),
        (fastmlp.MLP([6, 8, 3], "relu", seed=3), X, y, "activations: the backup has"),
    ]
    for model, X_fit, y_fit, message in cases:
        before = np.array(model.params)
        with pytest.raises(ValueError, match=r"made by a different fit and cannot be resumed "
                                             rf"\(.*{message}"):
            model.fit(X_fit, y_fit, epochs=4, callbacks=[BackupAndRestore(tmp_path)])
        np.testing.assert_array_equal(model.params, before)
        assert (tmp_path / "training_state.npz").exists()
    other = np.random.default_rng(9).normal(size=(240, 6))
    with pytest.raises(RuntimeError):
        _model(normalize="zscore").fit(X, y, epochs=4, callbacks=[
            BackupAndRestore(tmp_path / "z"), Failure(2)])
    with pytest.raises(ValueError, match="another normalization of the inputs"):
        _model(normalize="zscore").fit(other, y, epochs=4,
                                       callbacks=[BackupAndRestore(tmp_path / "z")])


def test_a_backup_that_is_not_one_is_refused(tmp_path):
    X, y = _data()
    (tmp_path / "training_state.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="is not a readable training backup"):
        _model().fit(X, y, epochs=2, callbacks=[BackupAndRestore(tmp_path)])


def test_a_failed_backup_write_leaves_the_previous_backup_whole(tmp_path, monkeypatch):
    X, y = _data()
    real_replace = os.replace
    calls = []

    def replace_failing_the_third_time(source, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError("disk full")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace_failing_the_third_time)
    with pytest.raises(OSError, match="disk full"):
        _model().fit(X, y, epochs=5, optimizer="adam",
                     callbacks=[BackupAndRestore(tmp_path)])
    monkeypatch.setattr(os, "replace", real_replace)
    assert [p.name for p in tmp_path.iterdir()] == ["training_state.npz"]  # no temp file left
    resumed = _model().fit(X, y, epochs=5, optimizer="adam",
                           callbacks=[BackupAndRestore(tmp_path)])
    np.testing.assert_array_equal(resumed.params,
                                  _model().fit(X, y, epochs=5, optimizer="adam").params)


KILLED_FIT = textwrap.dedent("""
    import json, os, signal, sys
    import numpy as np
    import fastmlp
    from fastmlp.callbacks import (BackupAndRestore, CSVLogger, Callback, EarlyStopping,
                                   LearningRateScheduler, ReduceLROnPlateau, CosineDecay)

    folder, out, kill_at = sys.argv[1], sys.argv[2], sys.argv[3]

    class KillSelf(Callback):
        # 'begin:E': SIGKILL once epoch E has started; 'end:E': at epoch E's end,
        # before that epoch's backup is written (backups run after every callback).
        def __init__(self, when):
            self.hook, _, epoch = when.partition(":")
            self.epoch = int(epoch) if epoch else None

        def on_epoch_begin(self, epoch, logs=None):
            if self.hook == "begin" and epoch == self.epoch:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_epoch_end(self, epoch, logs=None):
            if self.hook == "end" and epoch == self.epoch:
                os.kill(os.getpid(), signal.SIGKILL)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)
    model = fastmlp.MLP([6, 10, 3], "tanh", normalize="zscore", seed=11)
    callbacks = [LearningRateScheduler(CosineDecay(0.03, decay_epochs=8)),
                 EarlyStopping("val_loss", patience=50),
                 CSVLogger(os.path.join(folder, "log.csv"))]
    if kill_at != "plain":
        callbacks.insert(0, BackupAndRestore(os.path.join(folder, "backup")))
    callbacks.append(KillSelf(kill_at))
    model.fit(X, y, epochs=8, batch_size=16, optimizer="adam", validation_data=(X[:50], y[:50]),
              callbacks=callbacks)
    np.save(out, model.params)
    print(json.dumps({"epoch": model.history["epoch"], "lr": model.history["lr"],
                      "loss": model.history["loss"]}))
""")


def _run(script, *args):
    return subprocess.run([sys.executable, str(script), *map(str, args)], capture_output=True,
                          text=True, timeout=180)


@pytest.mark.parametrize("kill_at, backed_up", [("begin:4", 3), ("end:5", 4)])
def test_a_fit_killed_with_sigkill_resumes_to_bit_identical_weights(tmp_path, kill_at,
                                                                    backed_up):
    script = tmp_path / "killed_fit.py"
    script.write_text(KILLED_FIT)
    plain, resumed = tmp_path / "plain", tmp_path / "resumed"
    plain.mkdir()
    resumed.mkdir()
    reference = _run(script, plain, plain / "params.npy", "plain")
    assert reference.returncode == 0, reference.stderr
    killed = _run(script, resumed, resumed / "params.npy", kill_at)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (resumed / "params.npy").exists()
    assert (resumed / "backup" / "training_state.npz").exists()
    with open(resumed / "log.csv") as stream:
        assert len(stream.read().splitlines()) == 1 + (backed_up + (kill_at == "end:5"))
    again = _run(script, resumed, resumed / "params.npy", "none")
    assert again.returncode == 0, again.stderr
    np.testing.assert_array_equal(np.load(resumed / "params.npy"), np.load(plain / "params.npy"))
    assert json.loads(again.stdout) == json.loads(reference.stdout)
    assert not (resumed / "backup" / "training_state.npz").exists()
    assert (resumed / "log.csv").read_text().splitlines()[0] == \
        (plain / "log.csv").read_text().splitlines()[0]
    assert [line.split(",")[1] for line in (resumed / "log.csv").read_text().splitlines()] == \
        [line.split(",")[1] for line in (plain / "log.csv").read_text().splitlines()]


def test_early_stopping_resumes_with_its_count_and_best_weights(tmp_path):
    X, y = _data()
    X_val, y_val = _data(seed=1)

    def fit(folder, *extra):
        stopper = EarlyStopping("val_loss", patience=3)
        # A rate this large makes the validation loss bounce, so it stops early.
        model = fastmlp.MLP([6, 16, 3], "relu", seed=0).fit(
            X, y, epochs=60, learning_rate=2.0, validation_data=(X_val, y_val),
            callbacks=[BackupAndRestore(folder), stopper, *extra])
        return model, stopper

    reference, stopped = fit(tmp_path / "ref")
    assert stopped.stopped_epoch is not None and stopped.stopped_epoch < 60
    assert stopped.best_epoch < stopped.stopped_epoch - 1
    with pytest.raises(RuntimeError):
        fit(tmp_path / "backup", Failure(stopped.stopped_epoch))
    resumed, stopper = fit(tmp_path / "backup")
    assert (stopper.best_epoch, stopper.stopped_epoch, stopper.best) == \
        (stopped.best_epoch, stopped.stopped_epoch, stopped.best)
    # The best epoch's weights came back from the backup, then were restored at the stop.
    np.testing.assert_array_equal(resumed.params, reference.params)
    assert resumed.history["epoch"] == reference.history["epoch"]


def test_early_stopping_starts_counting_afresh_in_every_fit():
    X, y = _data()
    stopper = EarlyStopping("loss", patience=2)
    model = _model()
    model.fit(X, y, epochs=3, callbacks=[Script("loss", [1.0, 2.0, 2.0]), stopper])
    assert stopper.stopped_epoch == 3
    model.fit(X, y, epochs=3, callbacks=[Script("loss", [5.0, 4.0, 3.0]), stopper])
    assert model.history["epoch"] == [1, 2, 3] and stopper.stopped_epoch is None
    assert stopper.best == 3.0


def test_a_bad_rate_names_the_schedule_function():
    X, y = _data()

    def negative_schedule(epoch, lr):
        return -lr

    with pytest.raises(ValueError, match=r"the schedule .*negative_schedule at epoch 1: "
                                         r"expected a finite learning rate >= 0, got -0\.01$"):
        _model().fit(X, y, epochs=2, callbacks=[LearningRateScheduler(negative_schedule)])


def test_csv_logger_appending_across_a_resume_keeps_the_earlier_rows(tmp_path):
    X, y = _data()
    log = tmp_path / "log.csv"
    _model().fit(X, y, epochs=2, callbacks=[CSVLogger(log)])
    with pytest.raises(RuntimeError):
        _model().fit(X, y, epochs=4, callbacks=[BackupAndRestore(tmp_path / "b"),
                                                CSVLogger(log, append=True), Failure(3)])
    assert len(log.read_text().splitlines()) == 5
    with open(log, "a") as stream:
        stream.write("3,0.5,0.0")  # a row cut short by a crash
    _model().fit(X, y, epochs=4, callbacks=[BackupAndRestore(tmp_path / "b"),
                                            CSVLogger(log, append=True)])
    lines = log.read_text().splitlines()
    assert [line.split(",")[0] for line in lines] == ["epoch", "1", "2", "1", "2", "3", "4"]


# --------------------------------------------------------------- estimators: backup_dir
ESTIMATOR_FIT = textwrap.dedent("""
    import sys
    import numpy as np
    from fastmlp import MLPClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)
    model = MLPClassifier((64,), solver=sys.argv[2], max_iter=12, early_stopping=True,
                          n_iter_no_change=50, learning_rate_init=0.01, batch_size=32,
                          random_state=3, verbose=True, backup_dir=sys.argv[1])
    model.fit(X, y)
""")


def _estimator_fit(folder, solver):
    from fastmlp import MLPClassifier
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int) + (X[:, 2] > 0.5)
    return MLPClassifier((64,), solver=solver, max_iter=12, early_stopping=True,
                         n_iter_no_change=50, learning_rate_init=0.01, batch_size=32,
                         random_state=3, backup_dir=folder), X, y


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_an_estimator_killed_mid_fit_resumes_to_the_uninterrupted_result(tmp_path, solver,
                                                                          capsys):
    script = tmp_path / "estimator_fit.py"
    script.write_text(ESTIMATOR_FIT)
    folder = tmp_path / "backup"
    with subprocess.Popen([sys.executable, "-u", str(script), str(folder), solver],
                          stdout=subprocess.PIPE, text=True) as child:
        for line in child.stdout:
            if line.startswith("Iteration 5,"):
                child.kill()   # SIGKILL, wherever epoch 6 is
                break
        child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL
    assert (folder / "estimator_state.npz").exists()
    reference, X, y = _estimator_fit(None, solver)
    reference.fit(X, y)
    resumed, X, y = _estimator_fit(folder, solver)
    capsys.readouterr()
    resumed.set_params(verbose=True).fit(X, y)
    printed = [int(line.split()[1].rstrip(",")) for line in capsys.readouterr().out.splitlines()
               if line.startswith("Iteration")]
    # it went on after the killed fit's last backup (after epoch 4 or 5), not from the start
    assert printed[0] in (5, 6) and printed[-1] == 12
    assert resumed.n_iter_ == reference.n_iter_ == 12
    assert resumed.loss_curve_ == reference.loss_curve_
    assert resumed.validation_scores_ == reference.validation_scores_
    assert resumed.best_validation_score_ == reference.best_validation_score_
    assert resumed.t_ == reference.t_
    for a, b in zip(resumed.coefs_ + resumed.intercepts_,
                    reference.coefs_ + reference.intercepts_):
        np.testing.assert_array_equal(a, b)
    assert not (folder / "estimator_state.npz").exists()


def test_an_estimator_backup_of_another_fit_is_refused_and_left_alone(tmp_path, monkeypatch):
    from fastmlp import MLPClassifier
    from fastmlp.estimators._backup import EstimatorBackup
    model, X, y = _estimator_fit(tmp_path, "adam")
    model.set_params(max_iter=1, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    assert not (tmp_path / "estimator_state.npz").exists()   # the fit ended: deleted
    # A fit that ends without deleting its backup leaves what a crash would.
    monkeypatch.setattr(EstimatorBackup, "delete", lambda self: None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    monkeypatch.undo()
    path = tmp_path / "estimator_state.npz"
    before = path.read_bytes()
    other = MLPClassifier((32,), max_iter=3, backup_dir=tmp_path, random_state=0)
    with pytest.raises(ValueError, match=r"made by a different fit.*hidden_layer_sizes.*delete it"):
        other.fit(X, y)
    with pytest.raises(ValueError, match=r"made by a different fit.*training_rows"):
        MLPClassifier((64,), max_iter=3, learning_rate_init=0.01, batch_size=32,
                      random_state=3, backup_dir=tmp_path).fit(X[:100], y[:100])
    assert path.read_bytes() == before


def test_backup_dir_is_refused_where_it_cannot_work(tmp_path):
    from fastmlp import LogisticRegression, MLPRegressor
    X, y = _data()
    with pytest.raises(ValueError, match="backup_dir needs a stochastic solver.*'lbfgs'"):
        LogisticRegression(backup_dir=tmp_path).fit(X, y)
    with pytest.raises(FileNotFoundError, match="expected its parent .* existing folder"):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=2,
                     backup_dir=tmp_path / "missing" / "deeper").fit(X, X[:, 0])
