"""Input checks at the public boundary, built on scikit-learn's validators.

Every error names what was expected and what came.
"""

import numbers

import numpy as np
from sklearn.utils import check_array

FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_features(X, *, n_features=None, name="X", keep_uint8=False):
    """A 2-D numeric array with at least one row and one column, all finite.

    uint8 arrays are kept as they are when `keep_uint8` (the fused
    uint8 -> float32 normalization reads them directly); everything else
    becomes float32 or float64.
    """
    if keep_uint8 and isinstance(X, np.ndarray) and X.dtype == np.uint8:
        X = check_array(X, dtype=None, input_name=name)
    else:
        X = check_array(X, dtype=[np.float64, np.float32], input_name=name)
        _check_float32_range(X, name)
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the model expects {n_features}"
        )
    return X


def _check_float32_range(X, name):
    if X.dtype == np.float64 and X.size:
        largest = float(np.max(np.abs(X)))
        if largest > FLOAT32_MAX:
            raise ValueError(
                f"{name} holds a value of magnitude {largest:.3g}, beyond the float32 "
                f"range (±{FLOAT32_MAX:.3g}) used for training; scale the input"
            )


def check_sample_weight(sample_weight, n_samples):
    """None, or a float vector of n_samples finite non-negative weights."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, float(sample_weight))
    w = check_array(sample_weight, ensure_2d=False, dtype=[np.float64, np.float32],
                    input_name="sample_weight")
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), got shape {w.shape}"
        )
    if np.any(w < 0):
        raise ValueError("sample_weight must be non-negative, got a negative weight")
    return w


def check_positive_int(value, name, *, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative_float(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not (
        value >= 0 and np.isfinite(value)
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive_float(value, name):
    if check_non_negative_float(value, name) == 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)
