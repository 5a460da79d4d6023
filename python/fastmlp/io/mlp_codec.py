"""The MLP record: its constructor configuration and its two or three arrays.

    config      layer_sizes, activations, loss, slope, init, normalize, seed, dtype,
                and with dropout: dropout (one rate per hidden layer), dropout_seed
    attributes  none
    arrays      params (the flat W[1], b[1], W[2], ... buffer, of the model's dtype);
                normalizer_offset, normalizer_scale (float32, one per input),
                exactly when normalize is not null

Not stored: optimizer state (every fit restarts it), the training history
and the random generator's position.
"""

import numbers

import numpy as np

from .._validation import check_dropout
from .errors import ModelFileError
from .json_fields import get_field, is_int
from .records import Record

_WHERE = "MLP"
_NORMALIZER_ARRAYS = ("normalizer_offset", "normalizer_scale")


class MLPCodec:
    def __init__(self, cls):
        self.cls = cls

    def encode(self, model):
        config = {
            "layer_sizes": [int(s) for s in model.layer_sizes],
            "activations": list(model.activations),
            "loss": model.loss_name,
            "slope": float(model.slope),
            "init": model.init,
            "normalize": model.normalizer.kind,
            # A Generator or SeedSequence seed cannot be stored; only its effect
            # on the weights (which are stored) matters for prediction.
            "seed": int(model.seed) if isinstance(model.seed, numbers.Integral) else None,
            "dtype": model.dtype.name,
        }
        if any(model.dropout):  # files of models without dropout stay as they were
            config["dropout"] = [float(r) for r in model.dropout]
            config["dropout_seed"] = int(model._dropout_seed)
        arrays = {"params": np.array(model.params, copy=True)}
        if model.normalizer.kind is not None and model.normalizer.offset_ is not None:
            arrays["normalizer_offset"] = model.normalizer.offset_
            arrays["normalizer_scale"] = model.normalizer.scale_
        return Record(config=config, arrays=arrays)

    def decode(self, record):
        config = record.config
        if record.attributes:
            raise ModelFileError(f"{_WHERE}: an MLP record has no attributes, got "
                                 f"{sorted(record.attributes)!r:.80}")
        if record.model is not None:
            raise ModelFileError(f"{_WHERE}: an MLP record holds no nested model")
        sizes = get_field(config, "layer_sizes", list, _WHERE)
        if len(sizes) < 2 or not all(is_int(s) and s >= 1 for s in sizes):
            raise ModelFileError(f"{_WHERE}: layer_sizes must be >= 2 positive integers, got "
                                 f"{sizes!r:.80}")
        activations = get_field(config, "activations", list, _WHERE)
        if len(activations) != len(sizes) - 1 or not all(isinstance(a, str) for a in activations):
            raise ModelFileError(
                f"{_WHERE}: expected {len(sizes) - 1} activation names for layer_sizes {sizes}, "
                f"got {activations!r:.80}")
        dtype = get_field(config, "dtype", str, _WHERE)
        if dtype not in ("float32", "float64"):
            raise ModelFileError(
                f"{_WHERE}: dtype must be 'float32' or 'float64', got {dtype!r:.40}")
        # Checked before any network exists: the parameter count follows from
        # layer_sizes and the file's own bytes bound the params array, so a
        # tampered layer_sizes cannot make us allocate more than the file holds.
        n_params = sum(i * o + o for i, o in zip(sizes, sizes[1:]))
        params = _array(record, "params", (n_params,), "<f4" if dtype == "float32" else "<f8")
        if not np.all(np.isfinite(params)):
            raise ModelFileError(f"{_WHERE}: params hold NaN or infinity; a saved model never does")
        normalize = config.get("normalize")
        seed = config.get("seed")
        if seed is not None and not is_int(seed):
            raise ModelFileError(f"{_WHERE}: seed must be an integer or null, got {seed!r:.40}")
        expected_arrays = {"params", *(_NORMALIZER_ARRAYS if normalize is not None else ())}
        if set(record.arrays) - expected_arrays:
            raise ModelFileError(
                f"{_WHERE}: unexpected arrays {sorted(set(record.arrays) - expected_arrays)}: "
                f"expected {sorted(expected_arrays)}")
        hidden = activations[:-1]
        try:
            model = self.cls(sizes, hidden if hidden else "relu", activations[-1],
                             loss=get_field(config, "loss", str, _WHERE),
                             slope=get_field(config, "slope", float, _WHERE),
                             init=config.get("init"), normalize=normalize, seed=seed, dtype=dtype)
        except (ValueError, TypeError) as error:
            raise ModelFileError(f"{_WHERE}: invalid MLP config: {error}") from None
        dropout = config.get("dropout")
        if dropout is not None:
            dropout_seed = config.get("dropout_seed")
            if not is_int(dropout_seed) or not 0 <= dropout_seed < 2**63:
                raise ModelFileError(f"{_WHERE}: dropout_seed must be an integer in [0, 2**63), "
                                     f"got {dropout_seed!r:.40}")
            try:
                model.dropout = check_dropout(dropout, len(sizes) - 2)
            except (ValueError, TypeError) as error:
                raise ModelFileError(f"{_WHERE}: invalid dropout: {error}") from None
            model._dropout_seed = int(dropout_seed)
            model._apply_dropout()
        model.params[...] = params
        if normalize is not None:
            offset, scale = (_array(record, name, (sizes[0],), "<f4")
                             for name in _NORMALIZER_ARRAYS)
            model.normalizer.set_state(offset.copy(), scale.copy())
        return model


def _array(record, name, shape, dtype):
    if name not in record.arrays:
        raise ModelFileError(f"{_WHERE}: array {name!r} is missing")
    array = record.arrays[name]
    if array.dtype.str != dtype or array.shape != shape:
        raise ModelFileError(
            f"{_WHERE}: array {name!r} must be {dtype} of shape {shape}, "
            f"got {array.dtype.str} of shape {array.shape}")
    return array
