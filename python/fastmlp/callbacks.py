"""Ready-made callbacks for `MLP.fit(..., callbacks=[...])`.

A callback is any callable f(model, metrics) run at the end of every epoch;
`metrics` holds that epoch's numbers (epoch, loss, seconds, and val_loss,
val_score, train_score, grad_norms when requested). Returning True stops
training after that epoch.
"""

from typing import Any, Mapping, Optional

import numpy as np


class EarlyStopping:
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    monitor: a metric name; names ending in 'loss' must decrease, others
    (val_score, train_score) must increase. With `restore_best`, the weights of
    the best epoch are put back when training stops early.
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
        self._sign = 1.0 if monitor.endswith("loss") else -1.0
        self.best: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.stopped_epoch: Optional[int] = None
        self._best_params: Optional[np.ndarray] = None
        self._waited = 0

    def __call__(self, model: Any, metrics: Mapping[str, Any]) -> bool:
        if self.monitor not in metrics:
            available = ", ".join(sorted(k for k in metrics if k != "grad_norms"))
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which this fit does not compute; "
                f"available: {available} (val_* need validation_data, train_score needs "
                "train_metrics=True)")
        value = self._sign * float(metrics[self.monitor])
        if self.best is None or value < self._sign * self.best - self.min_delta:
            self.best = float(metrics[self.monitor])
            self.best_epoch = metrics["epoch"]
            self._waited = 0
            if self.restore_best:
                self._best_params = np.array(model.params, copy=True)
            return False
        self._waited += 1
        if self._waited < self.patience:
            return False
        self.stopped_epoch = metrics["epoch"]
        if self.restore_best and self._best_params is not None:
            model.params[...] = self._best_params
        return True
