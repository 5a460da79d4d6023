"""The training engine: the one loop over epochs in the package.

Every model trains through `run_epochs`: `MLP.fit` and the four scikit-learn
estimators (`fastmlp.estimators`), on one process or, with `TrainingData.comm`,
on several (`fastmlp.distributed`: the native loop sums every step's
gradients over the ranks between backward and update). The loop
owns what is the same for all of them:

- the epoch's row order (`_batching.epoch_order`, from the caller's generator);
- one native epoch call (or, when a progress bar is shown, one call per slice
  of the order, which gives bit-identical weights: `_progress.py`);
- timing, divergence (a non-finite loss) and Ctrl-C.

What differs between callers (their metrics, history attributes, schedules
and stopping decisions) is an `EpochHooks` object the caller passes in. The
stopping rules themselves are written once, here: `Plateau` is both
scikit-learn's tol / n_iter_no_change counter and Keras's EarlyStopping
patience, and `BestWeights` keeps and restores the best epoch's weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ._batching import epoch_order
from ._progress import EpochBar, train_epoch_in_chunks


@dataclass(frozen=True)
class Optimizer:
    """The native optimizer's settings for one epoch (see `optim_step.h`)."""

    name: str = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8

    def at_rate(self, learning_rate: float) -> Optimizer:
        return self if learning_rate == self.learning_rate else replace(
            self, learning_rate=float(learning_rate))


@dataclass
class TrainingData:
    """Training rows ready for the native core, and what every batch of them uses.

    X, Y, w: C-contiguous arrays of the model's dtype (normalized features,
    or a CSR matrix of them from `_sparse.native_csr`; encoded targets; row
    weights or None); l2: the native penalty coefficient;
    freeze_bias: keep every bias where it is (models without an intercept).
    comm: a `fastmlp.distributed.Communicator` for a distributed fit (then
    `distribute` sets `step_rows`, each step's rows over all ranks).
    """

    X: np.ndarray
    Y: np.ndarray
    w: np.ndarray | None
    batch_size: int
    l2: float = 0.0
    freeze_bias: bool = False
    comm: Any = None
    step_rows: np.ndarray | None = None
    # A non-finite loss restores the epoch's start (a copy of the weights and
    # optimizer state); False: no copy, the last finite step's weights stay.
    keep_start: bool = True

    def distribute(self, comm: Any) -> TrainingData:
        """Train these rows as this rank's share of a distributed fit over `comm`."""
        self.comm = comm
        self.step_rows = None if comm is None else comm.step_rows(self.n_rows, self.batch_size)
        return self

    @property
    def n_rows(self) -> int:
        """This process's rows."""
        return int(self.X.shape[0])

    @property
    def total_rows(self) -> int:
        """The rows of an epoch over all ranks (this process's rows without comm)."""
        return self.n_rows if self.step_rows is None else int(self.step_rows.sum())

    @property
    def n_batches(self) -> int:
        """Steps per epoch (the same on every rank)."""
        if self.step_rows is not None:
            return int(self.step_rows.shape[0])
        return -(-self.n_rows // self.batch_size)


class AgreedInterrupt(KeyboardInterrupt):
    """Ctrl-C in a distributed epoch: every rank stopped at the same step (the
    stop request travels with the step's sums), so all can end quietly."""

    fastmlp_agreed = True  # every rank raises it: no failure notice is needed


class EpochHooks:
    """What a caller of `run_epochs` decides; every method has a neutral default."""

    def learning_rate(self, epoch: int, optimizer: Optimizer) -> float:
        """The rate for this epoch (a schedule changes it between native calls)."""
        return optimizer.learning_rate

    def diverged(self, epoch: int, result: dict) -> None:
        """The epoch's loss was not finite; the native core restored the epoch's start."""
        from .errors import TrainingDivergedError

        raise TrainingDivergedError(
            f"the training loss became NaN or infinite at epoch {epoch}, batch "
            f"{result['failed_batch'] + 1}")

    def end_of_epoch(self, epoch: int, result: dict, seconds: float) -> bool:
        """After a completed epoch; True stops training."""
        return False

    def interrupted(self) -> bool:
        """Ctrl-C during training: True ends the loop quietly, False re-raises."""
        return False

    def finished(self) -> None:
        """After the last epoch (also after a quiet interruption, not after an error)."""


def run_epochs(model: Any, data: TrainingData, optimizer: Optimizer, hooks: EpochHooks, *,
               epochs: int, rng: np.random.Generator, shuffle: bool,
               progress_label: str | None = None, first_epoch: int = 1) -> int:
    """Train `model` for up to `epochs` epochs; returns the number completed.

    `model` is the `MLP` that owns the native network (its `train_epoch_prepared`
    runs one native epoch). With `progress_label`, each epoch shows a live bar
    (not in a distributed fit: one native call per epoch there).
    """
    if data.comm is not None:
        progress_label = None
    completed = 0
    try:
        for epoch in range(first_epoch, first_epoch + epochs):
            step = optimizer.at_rate(hooks.learning_rate(epoch, optimizer))
            order = epoch_order(data.n_rows, rng, shuffle)
            started = time.perf_counter()
            result = train_one_epoch(model, data, order, step, progress_label, epoch,
                                     first_epoch + epochs - 1)
            seconds = time.perf_counter() - started
            if result["status"] == "non_finite":
                hooks.diverged(epoch, result)
                break
            completed += 1
            if hooks.end_of_epoch(epoch, result, seconds):
                break
    except KeyboardInterrupt as interrupt:
        # A Ctrl-C that only this rank saw cannot end quietly: the others
        # would wait for its next step. It goes up to the distributed guard.
        if data.comm is not None and not isinstance(interrupt, AgreedInterrupt):
            raise
        if not hooks.interrupted():
            raise
    hooks.finished()
    return completed


def train_one_epoch(model: Any, data: TrainingData, order: np.ndarray, optimizer: Optimizer,
                    progress_label: str | None = None, epoch: int = 1,
                    last_epoch: int = 1) -> dict:
    """One epoch: a single native call, or slices of it under a progress bar."""
    def native(part: np.ndarray) -> dict:
        return model.train_epoch_prepared(data.X, data.Y, data.w, part, data.batch_size,
                                          optimizer, data.l2, freeze_bias=data.freeze_bias,
                                          comm=data.comm, step_rows=data.step_rows,
                                          keep_start=data.keep_start)

    if data.comm is not None:
        result = native(order)
        if result["status"] == "interrupted":
            data.comm.take_interrupt()
            raise AgreedInterrupt("a rank was interrupted (Ctrl-C); every rank stopped at the "
                                  "same step")
        return result
    if progress_label is None:
        return native(order)
    bar = EpochBar(epoch, last_epoch, data.n_batches)
    # The native call restores the weights of its own start when a loss is not
    # finite; a slice starts mid-epoch, so keep the epoch's start here.
    epoch_start = np.array(model.params, copy=True) if data.keep_start else None
    try:
        result = train_epoch_in_chunks(native, order, data.batch_size, on_chunk=bar.update)
    finally:
        bar.close()
    if result["status"] == "non_finite" and epoch_start is not None:
        model.params[...] = epoch_start
    return result


class Plateau:
    """Counts epochs in which a monitored figure did not improve enough.

    mode: 'min' (a loss) or 'max' (a score). `update(value)` returns True when
    the value is the best so far. Two conventions, each kept exactly:

    - 'scikit-learn' (its MLP and SGD estimators' tol / n_iter_no_change): an
      epoch improves when it beats the best by at least `tol`; the best moves
      to every new extreme, significant or not.
    - 'keras' (EarlyStopping's min_delta / patience): an epoch improves when it
      beats the best by more than `tol`; the best moves only then.

    `exhausted` says `patience` epochs in a row did not improve.
    """

    def __init__(self, mode: str, tol: float, patience: float, *,
                 convention: str = "scikit-learn", best: float | None = None,
                 count: int = 0) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if convention not in ("scikit-learn", "keras"):
            raise ValueError(f"convention must be 'scikit-learn' or 'keras', got {convention!r}")
        self.mode = mode
        self.tol = float(tol)
        self.patience = patience
        self.convention = convention
        self._sign = 1.0 if mode == "min" else -1.0
        # None: nothing seen yet, so the first value is an improvement whatever it is.
        self.best = best
        self.count = count

    def update(self, value: float) -> bool:
        if self.best is None:
            improved = is_best = True
        elif self.convention == "scikit-learn":
            signed, best = self._sign * value, self._sign * self.best
            improved = not signed > best - self.tol
            is_best = signed < best
        else:
            signed, best = self._sign * value, self._sign * self.best
            improved = signed < best - self.tol
            is_best = improved
        self.count = 0 if improved else self.count + 1
        if is_best:
            self.best = value
        return is_best

    @property
    def exhausted(self) -> bool:
        return self.count >= self.patience

    def reset(self) -> None:
        self.count = 0


class BestWeights:
    """A copy of the best epoch's parameters, put back when training ends."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.params = np.array(model.params, copy=True)

    def keep(self) -> None:
        self.params = np.array(self._model.params, copy=True)

    def restore(self) -> None:
        self._model.params[...] = self.params
