"""Callbacks and learning-rate schedules for `MLP.fit(..., callbacks=[...])`.

Two kinds of callback work side by side:

- a plain callable f(model, metrics), run at the end of every epoch; `metrics`
  holds that epoch's numbers (epoch, loss, seconds, lr, and val_loss,
  val_score, train_score, grad_norms when requested). Returning True stops
  training after that epoch.
- a `Callback` object, with Keras's hooks: on_train_begin(logs),
  on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs) and
  on_train_end(logs). on_epoch_end returning True, or setting
  `self.model.stop_training = True`, stops training after that epoch.

Epochs are numbered from 1, as in `model.history["epoch"]` and
metrics["epoch"] (Keras counts from 0): a schedule written for Keras's
numbering takes `epoch - 1`.

The learning rate is set once per epoch, before the native epoch runs, never
per batch: `LearningRateScheduler` and `ReduceLROnPlateau` change
`Callback.learning_rate`, which the next epoch uses. The rate each epoch ran
with is metrics["lr"] and `model.history["lr"]`.

The ready schedules (`StepDecay`, `ExponentialDecay`, `CosineDecay`,
`LinearWarmUp`) are callables schedule(epoch, lr) -> rate for
`LearningRateScheduler`.
"""

from __future__ import annotations

import contextlib
import csv
import math
import numbers
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._engine import BestWeights, Plateau
from ._jsonvalues import ValueDecoder, ValueEncoder
from ._statefile import make_backup_folder, read_state_file, write_state_file

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CosineDecay", "EarlyStopping",
    "ExponentialDecay", "History", "LearningRateScheduler", "LinearWarmUp", "ModelCheckpoint",
    "ReduceLROnPlateau", "StepDecay",
]


# --------------------------------------------------------------- checks

def _check_rate(value, what):
    """A learning rate: a finite real number >= 0, or a ValueError naming `what`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{what}: expected a finite learning rate >= 0, got {value!r} "
                         f"({type(value).__name__})")
    rate = float(value)
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"{what}: expected a finite learning rate >= 0, got {rate!r}")
    return rate


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return int(value)


def _real(value, name, *, low=None, high=None, low_open=False, high_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        span = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
        raise ValueError(f"{name} must be in {span}, got {value!r}")
    return value


def _mode(mode, monitor):
    """'min' or 'max' for a monitored metric; 'auto': names ending in 'loss' decrease."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "min" if monitor.endswith("loss") else "max"
    return mode


def _monitored(logs, monitor, who):
    if monitor not in logs:
        available = ", ".join(sorted(k for k in logs if k != "grad_norms"))
        raise ValueError(
            f"{who} monitors {monitor!r}, which this fit does not compute; available: "
            f"{available} (val_* need validation_data, train_score needs train_metrics=True)")
    return float(logs[monitor])


def _existing_folder(path, who, what):
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{who}: the folder of {what} {str(path)!r} does not exist: expected an existing "
            f"folder, got {str(folder)!r}")
    return folder


# --------------------------------------------------------------- the base class

class Callback:
    """Base class of callbacks with hooks; override the ones you need.

    During a fit, `self.model` is the model being trained and `self.params`
    the fit's settings (epochs, batch_size, steps, samples, optimizer,
    learning_rate, verbose). `self.learning_rate` reads and sets the rate of
    the coming epochs. `get_state` / `set_state` let `BackupAndRestore` keep
    the callback's state across a restart (JSON values and numpy arrays).
    """

    model = None
    params: dict | None = None
    _fit = None

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None:
        """Before the first epoch (after a `BackupAndRestore` has restored its state)."""

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """Before epoch `epoch`'s native call: a schedule sets the rate here."""

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> bool | None:
        """After epoch `epoch` with its metrics in `logs`; True stops training."""
        return None

    def on_train_end(self, logs: dict | None = None) -> None:
        """After the last epoch, also after an early stop (not after an error)."""

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass

    @property
    def learning_rate(self) -> float:
        """The rate the coming epochs use (set it to change them); only during a fit."""
        return self._running_fit().rate

    @learning_rate.setter
    def learning_rate(self, value) -> None:
        self._running_fit().rate = _check_rate(value, f"{type(self).__name__} learning rate")

    def _running_fit(self):
        if self._fit is None:
            raise RuntimeError(f"{type(self).__name__}: the learning rate exists only during "
                               "MLP.fit")
        return self._fit

    def _attach(self, model, params, fit) -> None:
        self.set_model(model)
        self.set_params(params)
        self._fit = fit

    def _detach(self) -> None:
        self._fit = None


# --------------------------------------------------------------- History

class History(dict, Callback):
    """Every metric of every epoch: a dict {metric: [value per epoch]}.

    `MLP.fit` returns the model (so calls chain) and keeps its History in
    `model.history`; `history["loss"]`, `history["lr"]` and so on are lists
    with one value per epoch. As in Keras, `.epoch` lists the epoch numbers
    and `.params` holds the fit's settings. A History passed in `callbacks`
    records the same way.
    """

    _resumed = False

    def __init__(self, *args, params: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.params = dict(params or {})
        self._resumed = False

    @property
    def epoch(self) -> list:
        """The numbers of the epochs recorded (from 1)."""
        return self.get("epoch", [])

    def set_model(self, model) -> None:
        pass  # a History holds numbers only, never a reference to the model

    def set_params(self, params: dict) -> None:
        self.params = dict(params)

    def record(self, logs: dict) -> None:
        for key, value in logs.items():
            self.setdefault(key, []).append(value)

    def on_train_begin(self, logs=None):
        if not self._resumed:
            self.clear()
        self._resumed = False

    def on_epoch_end(self, epoch, logs=None):
        self.record(logs or {})

    def get_state(self):
        return {"history": {key: list(values) for key, values in self.items()}}

    def set_state(self, state):
        self.clear()
        self.update({key: list(values) for key, values in state["history"].items()})
        self._resumed = True

    def __repr__(self):
        return f"History({dict.__repr__(self)})"

    def __reduce__(self):
        return (History, (dict(self),), {"params": self.params})


# --------------------------------------------------------------- stopping

class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    monitor: a metric name; names ending in 'loss' must decrease, others
    (val_score, train_score) must increase. With `restore_best`, the weights of
    the best epoch are put back when training stops early. Also works as a
    plain callable stopper(model, metrics).
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 restore_best: bool = True) -> None:
        if not isinstance(patience, int) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"min_delta must be >= 0, got {min_delta!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._plateau = Plateau("min" if monitor.endswith("loss") else "max", self.min_delta,
                                patience, convention="keras")
        self._best_weights: BestWeights | None = None

    @property
    def best(self) -> float | None:
        """The best value of the monitored metric so far (None before the first epoch)."""
        return self._plateau.best

    def on_train_begin(self, logs=None):
        # Each fit starts counting afresh (as in Keras), unless a backup restored the count.
        if not getattr(self, "_resumed", False):
            self._plateau = Plateau(self._plateau.mode, self.min_delta, self.patience,
                                    convention="keras")
            self.best_epoch = self.stopped_epoch = self._best_weights = None
        self._resumed = False

    def on_epoch_end(self, epoch, logs=None):
        return self(self.model, logs)

    def __call__(self, model: Any, metrics: Mapping[str, Any]) -> bool:
        value = _monitored(metrics, self.monitor, "EarlyStopping")
        if self._plateau.update(value):
            self.best_epoch = metrics["epoch"]
            if self.restore_best:
                self._best_weights = BestWeights(model)
            return False
        if not self._plateau.exhausted:
            return False
        self.stopped_epoch = metrics["epoch"]
        if self._best_weights is not None:
            self._best_weights.restore()
        return True

    def get_state(self):
        return {"best": self._plateau.best, "count": self._plateau.count,
                "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
                "best_params": None if self._best_weights is None else self._best_weights.params}

    def set_state(self, state):
        self._plateau.best = state["best"]
        self._plateau.count = state["count"]
        self.best_epoch = state["best_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self._best_weights = None
        if state["best_params"] is not None:
            self._best_weights = BestWeights(self.model)
            self._best_weights.params = np.array(state["best_params"], dtype=self.model.dtype)
        self._resumed = True


# --------------------------------------------------------------- learning rates

class LearningRateScheduler(Callback):
    """Sets each epoch's rate to schedule(epoch, lr) before the epoch runs.

    schedule: a callable (epoch, lr) -> new rate, epoch counted from 1 and lr
    the rate in effect; it must return a finite number >= 0.
    """

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0):
        if not callable(schedule):
            raise TypeError(f"schedule must be a callable (epoch, lr) -> lr, got "
                            f"{type(schedule).__name__}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        returned = self.schedule(epoch, self.learning_rate)
        rate = _check_rate(returned, f"LearningRateScheduler: the schedule "
                                     f"{_name_of(self.schedule)} at epoch {epoch}")
        self.learning_rate = rate
        if self.verbose:
            print(f"Epoch {epoch}: LearningRateScheduler setting the learning rate to {rate}.",
                  flush=True)


def _name_of(schedule):
    """A ready schedule's repr, or a function's qualified name (without its address)."""
    name = getattr(schedule, "__qualname__", None)
    return name if isinstance(name, str) else repr(schedule)


class ReduceLROnPlateau(Callback):
    """Multiply the rate by `factor` when `monitor` stops improving (Keras's rule).

    An epoch improves when it beats the best by more than `min_delta`; after
    `patience` epochs without, the rate becomes max(lr * factor, min_lr) for the
    following epochs, and `cooldown` epochs pass before counting again.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        self.monitor = monitor
        self.factor = _real(factor, "factor", low=0.0, high=1.0, low_open=True, high_open=True)
        self.patience = _positive_int(patience, "patience")
        self.verbose = verbose
        self.mode = _mode(mode, monitor)
        self.min_delta = _real(min_delta, "min_delta", low=0.0)
        self.cooldown = _non_negative_int(cooldown, "cooldown")
        self.min_lr = _real(min_lr, "min_lr", low=0.0)
        self._plateau = Plateau(self.mode, self.min_delta, self.patience, convention="keras")
        self.wait = 0
        self.cooldown_counter = 0

    @property
    def best(self):
        return self._plateau.best

    def on_train_begin(self, logs=None):
        if not getattr(self, "_resumed", False):
            self._plateau = Plateau(self.mode, self.min_delta, self.patience, convention="keras")
            self.wait = 0
            self.cooldown_counter = 0
        self._resumed = False

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._plateau.update(current):
            self.wait = 0
        elif self.cooldown_counter == 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = self.learning_rate
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.learning_rate = new
                    if self.verbose:
                        print(f"Epoch {epoch}: ReduceLROnPlateau reducing the learning rate "
                              f"to {new}.", flush=True)
                self.cooldown_counter = self.cooldown
                self.wait = 0
        return None

    def get_state(self):
        return {"best": self._plateau.best, "wait": self.wait,
                "cooldown_counter": self.cooldown_counter}

    def set_state(self, state):
        self._plateau = Plateau(self.mode, self.min_delta, self.patience, convention="keras",
                                best=state["best"])
        self.wait = state["wait"]
        self.cooldown_counter = state["cooldown_counter"]
        self._resumed = True


class StepDecay:
    """rate(epoch) = initial_rate * factor ** floor((epoch - 1) / every)."""

    def __init__(self, initial_rate, factor=0.5, every=10):
        self.initial_rate = _check_rate(initial_rate, "StepDecay initial_rate")
        self.factor = _real(factor, "factor", low=0.0)
        self.every = _positive_int(every, "every")

    def __call__(self, epoch, lr=None):
        return self.initial_rate * self.factor ** ((epoch - 1) // self.every)

    def __repr__(self):
        return f"StepDecay({self.initial_rate}, factor={self.factor}, every={self.every})"


class ExponentialDecay:
    """rate(epoch) = initial_rate * decay_rate ** ((epoch - 1) / decay_epochs).

    Keras's ExponentialDecay with epochs for steps; `staircase` floors the exponent.
    """

    def __init__(self, initial_rate, decay_rate, decay_epochs=1, staircase=False):
        self.initial_rate = _check_rate(initial_rate, "ExponentialDecay initial_rate")
        self.decay_rate = _real(decay_rate, "decay_rate", low=0.0, low_open=True)
        self.decay_epochs = _positive_int(decay_epochs, "decay_epochs")
        self.staircase = bool(staircase)

    def __call__(self, epoch, lr=None):
        power = (epoch - 1) / self.decay_epochs
        if self.staircase:
            power = math.floor(power)
        return self.initial_rate * self.decay_rate ** power

    def __repr__(self):
        return (f"ExponentialDecay({self.initial_rate}, {self.decay_rate}, "
                f"decay_epochs={self.decay_epochs}, staircase={self.staircase})")


class CosineDecay:
    """Keras's CosineDecay over epochs, with its optional linear warm-up.

    With step = epoch - 1: during the first `warmup_epochs` steps the rate goes
    linearly from initial_rate to warmup_target; then, from the peak p
    (warmup_target, or initial_rate without warm-up) and d = min(step -
    warmup_epochs, decay_epochs) / decay_epochs,
    rate = p * ((1 - alpha) * 0.5 * (1 + cos(pi * d)) + alpha).
    """

    def __init__(self, initial_rate, decay_epochs, alpha=0.0, warmup_target=None,
                 warmup_epochs=0):
        self.initial_rate = _check_rate(initial_rate, "CosineDecay initial_rate")
        self.decay_epochs = _positive_int(decay_epochs, "decay_epochs")
        self.alpha = _real(alpha, "alpha", low=0.0, high=1.0)
        self.warmup_target = None if warmup_target is None else _check_rate(
            warmup_target, "CosineDecay warmup_target")
        self.warmup_epochs = _non_negative_int(warmup_epochs, "warmup_epochs")

    def __call__(self, epoch, lr=None):
        step = epoch - 1
        peak = self.initial_rate
        if self.warmup_target is not None:
            peak = self.warmup_target
            if step < self.warmup_epochs:
                return self.initial_rate + (peak - self.initial_rate) * step / self.warmup_epochs
            step -= self.warmup_epochs
        done = min(step, self.decay_epochs) / self.decay_epochs
        return peak * ((1 - self.alpha) * 0.5 * (1 + math.cos(math.pi * done)) + self.alpha)

    def __repr__(self):
        return (f"CosineDecay({self.initial_rate}, {self.decay_epochs}, alpha={self.alpha}, "
                f"warmup_target={self.warmup_target}, warmup_epochs={self.warmup_epochs})")


class LinearWarmUp:
    """A linear warm-up to `target_rate`, then a constant rate or another schedule.

    Epochs 1..warmup_epochs: rate = target_rate * epoch / warmup_epochs (the
    last warm-up epoch runs at the target). Later epochs: target_rate, or
    then(epoch - warmup_epochs, lr) when a schedule `then` is given (it counts
    its own epochs from 1).
    """

    def __init__(self, target_rate, warmup_epochs, then=None):
        self.target_rate = _check_rate(target_rate, "LinearWarmUp target_rate")
        self.warmup_epochs = _positive_int(warmup_epochs, "warmup_epochs")
        if then is not None and not callable(then):
            raise TypeError(f"then must be a schedule (epoch, lr) -> lr or None, got "
                            f"{type(then).__name__}")
        self.then = then

    def __call__(self, epoch, lr=None):
        if epoch <= self.warmup_epochs:
            return self.target_rate * epoch / self.warmup_epochs
        if self.then is None:
            return self.target_rate
        return self.then(epoch - self.warmup_epochs, lr)

    def __repr__(self):
        return f"LinearWarmUp({self.target_rate}, {self.warmup_epochs}, then={self.then!r})"


# --------------------------------------------------------------- files

def _csv_value(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + " ".join(repr(float(v)) for v in value) + "]"
    if isinstance(value, float):
        return repr(value)
    return value


class CSVLogger(Callback):
    """One row per epoch to a CSV file: epoch, loss, the other metrics, lr.

    The columns are those of the first epoch's metrics, in their order
    (epoch, loss, seconds, [train_score, val_loss, val_score, grad_norms], lr).
    append=False starts a new file at the beginning of training; append=True
    adds to an existing one. Each row is written and flushed at its epoch's
    end. When a `BackupAndRestore` resumes a fit, the file keeps the rows of
    the epochs the backup holds and the resumed epochs follow them.
    """

    writes_files = True  # in a distributed fit, rank 0's alone runs

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        if not isinstance(separator, str) or len(separator) != 1:
            raise ValueError(f"separator must be one character, got {separator!r}")
        self.separator = separator
        self.append = bool(append)
        self.keys = None
        self.lines = 0          # complete lines in the file, header included
        self._resume_lines = None

    def on_train_begin(self, logs=None):
        _existing_folder(self.filename, "CSVLogger", "filename")
        if self._resume_lines is not None:
            self.lines, self._resume_lines = self._keep_lines(self._resume_lines), None
            return
        self.keys = None
        if self.append and os.path.exists(self.filename):
            self.lines = self._keep_lines(None)
            with open(self.filename, newline="") as stream:
                self.keys = next(csv.reader(stream, delimiter=self.separator), None)
        else:
            open(self.filename, "w").close()
            self.lines = 0

    def _keep_lines(self, count):
        """Cut the file to its first `count` complete lines (all of them for None)."""
        try:
            with open(self.filename, newline="") as stream:
                lines = stream.read().splitlines(keepends=True)
        except FileNotFoundError:
            lines = []
        complete = [line for line in lines if line.endswith("\n")]
        kept = complete if count is None else complete[:count]
        if kept != lines:
            with open(self.filename, "w", newline="") as stream:
                stream.writelines(kept)
        return len(kept)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = list(logs)
        with open(self.filename, "a", newline="") as stream:
            writer = csv.writer(stream, delimiter=self.separator, lineterminator="\n")
            if self.lines == 0:
                writer.writerow(self.keys)
                self.lines += 1
            writer.writerow([_csv_value(logs.get(key, "NA")) for key in self.keys])
        self.lines += 1
        return None

    def get_state(self):
        return {"keys": self.keys, "lines": self.lines}

    def set_state(self, state):
        self.keys = state["keys"]
        self._resume_lines = int(state["lines"])


class ModelCheckpoint(Callback):
    """Save the model with `fastmlp.save` (atomically) at the end of epochs.

    filepath may hold format fields filled from the epoch's metrics, such as
    "model-{epoch:03d}-{val_loss:.4f}.fastmlp". With save_best_only (the
    default here, where Keras's is False) a file is written only when
    `monitor` improves on the best so far (mode 'auto': names ending in 'loss'
    decrease, others increase); otherwise after every epoch. The folder must
    exist.
    """

    writes_files = True  # in a distributed fit, rank 0's alone runs

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=True,
                 mode="auto"):
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.mode = _mode(mode, monitor)
        self.best = None
        self.saved = []
        self._resumed = False

    def on_train_begin(self, logs=None):
        if "{" not in os.path.dirname(self.filepath):
            _existing_folder(self.filepath, "ModelCheckpoint", "filepath")
        if not self._resumed:
            self.best = None
            self.saved = []
        self._resumed = False

    def _improves(self, value):
        if self.best is None:
            return not math.isnan(value)
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint")
            if not self._improves(value):
                return None
            self.best = value
        try:
            path = self.filepath.format(**logs)
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(f"ModelCheckpoint: cannot fill filepath {self.filepath!r} from the "
                             f"metrics {sorted(logs)}: {error}") from None
        _existing_folder(path, "ModelCheckpoint", "filepath")
        from . import save  # the package's save: fastmlp.io imports the models, never the reverse

        save(self.model, path)
        self.saved.append(path)
        if self.verbose:
            print(f"Epoch {epoch}: ModelCheckpoint saved the model to {path}.", flush=True)
        return None

    def get_state(self):
        return {"best": self.best, "saved": list(self.saved)}

    def set_state(self, state):
        self.best = state["best"]
        self.saved = list(state["saved"])
        self._resumed = True


# --------------------------------------------------------------- backup and restore

_BACKUP_NAME = "training_state.npz"
_BACKUP_KIND = "fastmlp training backup"
_BACKUP_VERSION = 1


class BackupAndRestore(Callback):
    """Back up the whole training state after every epoch; resume from it after a crash.

    At each epoch's end (after the other callbacks), `backup_dir`/training_state.npz
    is replaced atomically by the weights, the optimizer state and step count,
    the learning rate in effect, the epoch, the epoch-order generator's
    state, the history and the state of every `Callback` of the fit. Running
    the same fit again with the same folder restores all of it and goes on
    with the epoch after the last complete one, so the weights end up
    bit-identical to a fit that was never interrupted. A backup made for
    another model (layer sizes, activations, loss, dtype), other training data
    (rows, features), another optimizer or batch size or other callbacks is
    refused. When the fit ends (also by an early stop) the backup is deleted
    unless delete_checkpoint=False; an error or Ctrl-C leaves it in place.

    The folder is created if missing (its parent must exist). The file is an
    npz (no pickle): the arrays, and the rest as JSON in its `state` entry.
    Plain callables f(model, metrics) keep no state across a restart.
    """

    def __init__(self, backup_dir, delete_checkpoint=True):
        self.backup_dir = os.fspath(backup_dir)
        self.delete_checkpoint = bool(delete_checkpoint)
        self.restored_epoch = None

    @property
    def path(self) -> Path:
        return Path(self.backup_dir) / _BACKUP_NAME

    def on_train_begin(self, logs=None):
        make_backup_folder(self.backup_dir, "BackupAndRestore")
        self.restored_epoch = None
        if self.path.exists():
            self.restored_epoch = self._restore()

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    # -- what a backup must agree on
    def _identity(self):
        fit, model = self._fit, self.model
        return {
            "layer_sizes": [int(s) for s in model.layer_sizes],
            "activations": list(model.activations),
            "loss": model.loss_name,
            "slope": float(model.slope),
            "dtype": model.dtype.name,
            "data_rows": int(fit.data.X.shape[0]),
            "data_features": int(fit.data.X.shape[1]),
            "target_columns": int(fit.data.Y.shape[1]),
            "optimizer": fit.optimizer_name,
            "batch_size": int(fit.data.batch_size),
            "callbacks": [type(cb).__name__ for cb in fit.stateful_callbacks],
        }

    def backup(self, epoch, stopping):
        """Write the state after epoch `epoch` (called by the fit, after the other callbacks)."""
        fit, model = self._fit, self.model
        arrays = {}
        training = model.training_state()
        arrays["params"] = training["params"]
        arrays["optimizer_state_0"], arrays["optimizer_state_1"] = training["optimizer_state"]
        normalizer = model.normalizer
        if normalizer.offset_ is not None:
            arrays["normalizer_offset"] = normalizer.offset_
            arrays["normalizer_scale"] = normalizer.scale_
        encoder = ValueEncoder()
        state = {
            "kind": _BACKUP_KIND,
            "version": _BACKUP_VERSION,
            "identity": self._identity(),
            "epoch": int(epoch),
            "stopping": bool(stopping),
            "learning_rate": float(fit.rate),
            "step_count": int(training["step_count"]),
            "rng_state": encoder.encode(training["rng_state"], "rng"),
            "history": encoder.encode(dict(model.history), "history"),
            "callbacks": [encoder.encode(cb.get_state(), f"callback{i}")
                          for i, cb in enumerate(fit.stateful_callbacks)],
        }
        arrays.update(encoder.arrays)  # named array0, array1, ...: no clash with the above
        write_state_file(self.path, state, arrays)

    def _read(self):
        return read_state_file(self.path, _BACKUP_KIND, _BACKUP_VERSION, "BackupAndRestore",
                               "training backup")

    def _restore(self):
        state, arrays = self._read()
        expected, found = self._identity(), state["identity"]
        differences = [f"{key}: the backup has {found.get(key)!r}, this fit {value!r}"
                       for key, value in expected.items() if found.get(key) != value]
        if differences:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir!r} was made by a different "
                f"fit and cannot be resumed ({'; '.join(differences)}); delete "
                f"{str(self.path)!r} to start over")
        model, fit = self.model, self._fit
        normalizer = model.normalizer
        if normalizer.offset_ is not None and not (
                np.array_equal(arrays.get("normalizer_offset"), normalizer.offset_)
                and np.array_equal(arrays.get("normalizer_scale"), normalizer.scale_)):
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir!r} was made with another "
                f"normalization of the inputs (other training data?); delete "
                f"{str(self.path)!r} to start over")
        decoder = ValueDecoder(arrays)
        try:
            training = {
                "params": arrays["params"],
                "optimizer_state": (arrays["optimizer_state_0"], arrays["optimizer_state_1"]),
                "step_count": state["step_count"],
                "rng_state": decoder.decode(state["rng_state"]),
            }
            history = decoder.decode(state["history"])
            rate = _check_rate(state["learning_rate"], "the backup's learning rate")
            callback_states = [decoder.decode(s) for s in state["callbacks"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"BackupAndRestore: {str(self.path)!r} is an incomplete training "
                             f"backup: {error!r}") from None
        model.set_training_state(training)
        model.history.clear()
        model.history.update(history)
        fit.rate = rate
        for cb, cb_state in zip(fit.stateful_callbacks, callback_states):
            cb.set_state(cb_state)
        epoch = int(state["epoch"])
        fit.resume_after(epoch, stopped=bool(state["stopping"]))
        return epoch


