"""Input checks at the public boundary, built on scikit-learn's validators.

Every error names what was expected and what came.
"""

import inspect
import numbers

import numpy as np
import scipy.sparse
from sklearn.utils import check_array

from . import _core

FLOAT32_MAX = float(np.finfo(np.float32).max)
_NATIVE_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# scikit-learn renamed force_all_finite to ensure_all_finite in 1.6; the
# finiteness check is ours (it names the position), so turn theirs off.
_NO_FINITE_CHECK = (
    {"ensure_all_finite": False}
    if "ensure_all_finite" in inspect.signature(check_array).parameters
    else {"force_all_finite": False}
)


def check_features(X, *, n_features=None, name="X", keep_uint8=False):
    """A 2-D numeric array with at least one row and one column, all finite.

    uint8 arrays are kept as they are when `keep_uint8` (the fused
    uint8 -> float32 normalization reads them directly); everything else
    becomes float32 or float64. Any layout works (strided, Fortran-ordered,
    read-only memory maps): conversion to C order happens once, later.
    """
    X = as_real_array(X, name)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got a "
            f"{X.ndim}-D array of shape {X.shape}"
        )
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(
            f"{name} must have at least one sample (row) and one feature (column), "
            f"got shape {X.shape}"
        )
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(
            f"{name} has {X.shape[1]} features, but the model expects {n_features}"
        )
    if keep_uint8 and X.dtype == np.uint8:
        return X
    # float16, integers and bools become float64 (exact), float32 stays as is.
    X = check_array(X, dtype=[np.float64, np.float32], input_name=name, **_NO_FINITE_CHECK)
    check_finite(X, name)
    _check_float32_range(X, name)
    return X




def plain_rows(X, n_features):
    """X itself when it needs no conversion and passes every check: a
    C-contiguous native-order float32 or float64 ndarray (not a subclass) of
    at least one row, `n_features` columns and finite values in float32's
    range. None otherwise: the caller then takes its general path, which
    converts what it can and raises the errors. This is the fast path of
    prediction on a few rows, where the general checks cost more than the
    network, so the checks are one native call (`_core.plain_rows`).
    """
    return X if _core.plain_rows(X, n_features) else None


def as_real_array(values, name):
    """`values` as a numpy array of bool, integer or float numbers.

    Complex numbers, strings, bytes, dates and objects that are not real
    numbers are refused, naming the dtype that came.
    """
    if scipy.sparse.issparse(values):
        raise TypeError(
            f"{name} must be a dense array, got a sparse {type(values).__name__}; "
            "convert it with .toarray()"
        )
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"{name} must be a rectangular array of numbers, got a {type(values).__name__} "
            f"that numpy cannot convert ({error})"
        ) from None
    if array.dtype.kind in "biuf":
        return array
    if array.dtype.kind == "O":
        return _object_to_float(array, name)
    raise ValueError(
        f"{name} must hold real numbers (float, integer or bool), got dtype {array.dtype}"
    )


def _object_to_float(array, name):
    # numpy would parse strings such as "1.5"; text is not a number here.
    for value in array.flat:
        if isinstance(value, (str, bytes, complex, np.complexfloating)):
            raise ValueError(
                f"{name} must hold real numbers, got dtype object containing "
                f"{type(value).__name__} {value!r:.40}"
            )
    try:
        return array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} must hold real numbers, got dtype object that does not convert "
            f"to float ({error})"
        ) from None


def check_finite(X, name):
    """Raise naming the first NaN or infinity, if any."""
    if X.dtype.kind != "f" or X.size == 0:
        return
    # One streaming pass with no temporary of X's size: a float64 sum is
    # finite exactly when every element is (for float32 input; a float64
    # overflow falls through to the exact check below).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(X, dtype=np.float64)):
            return
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    position = tuple(int(i) for i in np.argwhere(bad)[0])
    value = X[position]
    where = f"row {position[0]}, column {position[1]}" if X.ndim == 2 else f"index {position[0]}"
    raise ValueError(
        f"{name} must contain only finite numbers, got {value} at {where} "
        f"({int(bad.sum())} non-finite value(s) in all)"
    )


def _check_float32_range(X, name):
    if X.dtype == np.float64 and X.size:
        largest = max(float(np.max(X)), -float(np.min(X)))  # no |X| copy of a large X
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


def check_non_negative_int(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
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


def check_targets(y, n_rows, name="y"):
    """Targets: a 1-D or 2-D array of n_rows finite real numbers in float32 range."""
    y = as_real_array(y, name)
    if y.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D (n_samples,) or 2-D (n_samples, n_outputs), got a "
            f"{y.ndim}-D array of shape {y.shape}"
        )
    if y.shape[0] != n_rows:
        raise ValueError(f"X has {n_rows} rows but {name} has {y.shape[0]}")
    if y.dtype.kind == "f":
        check_finite(y, name)
        _check_float32_range(y, name)
    return y


def check_finite_output(out, X):
    """The network's output must be finite; overflow means the input was too large."""
    if out.dtype.kind != "f":
        return
    # The output is n_rows x n_outputs: cheap next to the forward pass, and one
    # native call where it is the native core's own output.
    if out.dtype in _NATIVE_FLOATS and out.flags.c_contiguous and _core.all_finite(out):
        return
    finite = np.isfinite(out)
    if finite.all():
        return
    rows = np.flatnonzero(~finite.all(axis=1))
    # abs() and max() of one row: numpy and scipy.sparse rows alike
    largest = float(abs(X[rows[0]]).max()) if X.dtype.kind in "biuf" else float("nan")
    raise ValueError(
        f"the network's output is NaN or infinite for {rows.size} of {out.shape[0]} rows "
        f"(first: row {rows[0]}, whose largest input magnitude is {largest:.3g}); expected "
        "finite outputs, which needs inputs small enough for float arithmetic through "
        "the network: scale the input (e.g. normalize='zscore')"
    )


def check_dropout(dropout, n_hidden):
    """Dropout rates, one per hidden layer, from one rate or a sequence of them."""
    if isinstance(dropout, numbers.Real) and not isinstance(dropout, bool):
        rates = [float(dropout)] * n_hidden
    else:
        try:
            rates = [float(r) for r in dropout]
        except (TypeError, ValueError):
            raise TypeError(f"dropout must be a rate or one rate per hidden layer, got "
                            f"{dropout!r:.60}") from None
        if len(rates) != n_hidden:
            raise ValueError(f"dropout needs one rate per hidden layer ({n_hidden}), got "
                             f"{len(rates)}")
    for rate in rates:
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"dropout rates must be in [0, 1), got {rate!r}")
    if n_hidden == 0 and isinstance(dropout, numbers.Real) and dropout != 0:
        raise ValueError("dropout acts on hidden layers, and this network has none")
    return tuple(rates)
