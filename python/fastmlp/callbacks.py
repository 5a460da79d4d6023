"""Ready-made callbacks for `MLP.fit(..., callbacks=[...])`.

A callback is any callable f(model, metrics) run at the end of every epoch;
`metrics` holds that epoch's numbers (epoch, loss, seconds, and val_loss,
val_score, train_score, grad_norms when requested). Returning True stops
training after that epoch.
"""

from collections.abc import Mapping
from typing import Any, Optional

from ._engine import BestWeights, Plateau


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
        self.best_epoch: Optional[int] = None
        self.stopped_epoch: Optional[int] = None
        self._plateau = Plateau("min" if monitor.endswith("loss") else "max", self.min_delta,
                                patience, convention="keras")
        self._best_weights: Optional[BestWeights] = None

    @property
    def best(self) -> Optional[float]:
        """The best value of the monitored metric so far (None before the first epoch)."""
        return self._plateau.best

    def __call__(self, model: Any, metrics: Mapping[str, Any]) -> bool:
        if self.monitor not in metrics:
            available = ", ".join(sorted(k for k in metrics if k != "grad_norms"))
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which this fit does not compute; "
                f"available: {available} (val_* need validation_data, train_score needs "
                "train_metrics=True)")
        if self._plateau.update(float(metrics[self.monitor])):
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
