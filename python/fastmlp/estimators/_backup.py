"""backup_dir: a stochastic estimator fit that survives being killed.

After every epoch, `backup_dir`/estimator_state.npz is replaced atomically by
the whole state of the fit: the weights, the optimizer state and step count,
the epoch-order generator, scikit-learn's bookkeeping (n_iter_, t_, the loss
and validation curves, the plateau count, the learning rate in effect) and
the best validation epoch's weights. Running the same `fit` again finds the
backup, checks it was made by the same estimator on the same data and goes
on after the last complete epoch, so the result is bit-identical to a fit
that was never stopped. The backup is deleted when the fit ends; an error or
a kill leaves it in place. The file is an npz without pickles (the state as
JSON in its `state` entry, through `_jsonvalues`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._jsonvalues import ValueDecoder, ValueEncoder
from .._statefile import make_backup_folder, read_state_file, write_state_file

_FILE_NAME = "estimator_state.npz"
_KIND = "fastmlp-estimator-backup"
_VERSION = 1

# scikit-learn's per-fit bookkeeping that the epochs change.
_ATTRIBUTES = ("n_iter_", "t_", "loss_", "loss_curve_", "best_loss_", "_no_improvement_count",
               "validation_scores_", "validation_loss_curve_", "best_validation_score_",
               "_learning_rate_", "_uses_validation_now")
# Parameters that may differ between the killed fit and the one that resumes it.
_FREE_PARAMETERS = ("verbose", "n_threads", "backup_dir", "max_iter")


def _parameter_text(value):
    """A parameter as comparable text (a generator or estimator object by its type only)."""
    if value is None or isinstance(value, (bool, int, float, str, tuple, list, dict)):
        return repr(value)
    return f"<{type(value).__name__}>"


class EstimatorBackup:
    """The backup of one stochastic fit: `resume` at its start, `save` after each epoch."""

    def __init__(self, estimator, data, best):
        self.path = make_backup_folder(estimator.backup_dir, "backup_dir") / _FILE_NAME
        self.est, self.data, self.best = estimator, data, best

    def _identity(self):
        est = self.est
        params = est.get_params(deep=False)
        classes = getattr(est, "classes_", None)
        return {
            "estimator": type(est).__name__,
            "parameters": {name: _parameter_text(value) for name, value in sorted(params.items())
                           if name not in _FREE_PARAMETERS},
            "features": int(est.n_features_in_),
            "outputs": int(est.n_outputs_),
            "parameter_count": int(est._model.n_params),
            "dtype": est._model.dtype.name,
            "training_rows": int(self.data.n_rows),
            "batch_size": int(self.data.batch_size),
            "classes": None if classes is None else [str(c) for c in classes],
        }

    def save(self):
        est, model = self.est, self.est._model
        training = model.training_state()
        encoder = ValueEncoder()
        state = {
            "kind": _KIND, "version": _VERSION, "identity": self._identity(),
            "step_count": int(training["step_count"]),
            "rng_state": encoder.encode(est._rng, "rng"),
            "attributes": {name: encoder.encode(est.__dict__[name], name)
                           for name in _ATTRIBUTES if name in est.__dict__},
        }
        arrays = {"params": training["params"], "optimizer_state_0": training["optimizer_state"][0],
                  "optimizer_state_1": training["optimizer_state"][1]}
        if self.best is not None:
            arrays["best_params"] = self.best.params
        if model.normalizer.offset_ is not None:
            arrays["normalizer_offset"] = model.normalizer.offset_
            arrays["normalizer_scale"] = model.normalizer.scale_
        arrays.update(encoder.arrays)   # array0, array1, ...: no clash with the names above
        write_state_file(self.path, state, arrays)

    def resume(self):
        """Restore the backup if there is one: the epochs it had completed (0 without)."""
        if not self.path.exists():
            return 0
        state, arrays = self._read()
        expected, found = self._identity(), state.get("identity", {})
        differences = [f"{key}: the backup has {found.get(key)!r}, this fit {value!r}"
                       for key, value in expected.items() if found.get(key) != value]
        normalizer = self.est._model.normalizer
        if normalizer.offset_ is not None and not (
                np.array_equal(arrays.get("normalizer_offset"), normalizer.offset_)
                and np.array_equal(arrays.get("normalizer_scale"), normalizer.scale_)):
            differences.append("the input normalization (other training data?)")
        if differences:
            raise ValueError(
                f"backup_dir: the backup {str(self.path)!r} was made by a different fit and "
                f"cannot be resumed ({'; '.join(differences)}); delete it to start over")
        est, decoder = self.est, ValueDecoder(arrays)
        try:
            rng = decoder.decode(state["rng_state"])
            attributes = {name: decoder.decode(value)
                          for name, value in state["attributes"].items() if name in _ATTRIBUTES}
            est._model.set_training_state({
                "params": arrays["params"],
                "optimizer_state": (arrays["optimizer_state_0"], arrays["optimizer_state_1"]),
                "step_count": state["step_count"],
                "rng_state": est._model._rng.bit_generator.state,
            })
            if self.best is not None:
                self.best.params = np.array(arrays["best_params"], dtype=est._model.dtype)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"backup_dir: {str(self.path)!r} is not a complete backup: "
                             f"{error}") from None
        est._rng = rng
        for name, value in attributes.items():
            setattr(est, name, value)
        return int(est.n_iter_)

    def _read(self):
        return read_state_file(self.path, _KIND, _VERSION, "backup_dir", "estimator backup")

    def delete(self):
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
