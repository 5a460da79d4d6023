"""Sparse input: a CSR matrix kept sparse from the caller to the native core.

Only the first layer sees the input, so only its two products (forward and
dW) read it sparse; they cost the nonzeros times the layer's width instead of
rows x columns x width. CSC, COO and the other scipy formats become CSR once.
"""

import numpy as np
import scipy.sparse

from ._validation import _check_float32_range

# A normalization that shifts each column would turn every zero into a nonzero.
SPARSE_NORMALIZE_ADVICE = (
    "normalize={kind!r} subtracts each column's {statistic}, which would make a sparse X "
    "dense; use normalize=None with sparse input (scale it first if needed, for example "
    "with scikit-learn's MaxAbsScaler, which keeps it sparse)"
)


def is_sparse(X):
    return scipy.sparse.issparse(X)


def check_sparse_features(X, *, n_features=None, name="X"):
    """A scipy sparse matrix as CSR of float32 or float64 (float32 and float64
    are kept, other real dtypes become float64, as scikit-learn does), with at
    least one row and one column and finite stored values."""
    if X.ndim != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix, got {X.ndim}-D")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers (float, integer or bool), got a sparse "
                         f"{type(X).__name__} of dtype {X.dtype}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"{name} must have at least one sample (row) and one feature (column), "
                         f"got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, but the model expects {n_features}")
    X = X.tocsr()
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    bad = ~np.isfinite(X.data)
    if bad.any():
        k = int(np.argmax(bad))
        row = int(np.searchsorted(X.indptr, k, side="right")) - 1
        raise ValueError(f"{name} must contain only finite numbers, got {X.data[k]} at row {row}, "
                         f"column {int(X.indices[k])} ({int(bad.sum())} non-finite value(s) in all)")
    _check_float32_range(X.data, name)
    return X


def native_csr(X, dtype):
    """The CSR rows the native core reads: sorted column indices without
    duplicates, int64 indices and pointers, values of `dtype`. The caller's
    matrix is never changed; its arrays are shared when they already fit."""
    X = X.tocsr()
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()   # also sorts each row's columns
    out = scipy.sparse.csr_matrix(X.shape, dtype=dtype)
    # Assigned, not passed to the constructor, which would narrow the
    # indices to int32 when they fit.
    out.data = np.ascontiguousarray(X.data, dtype=dtype)
    out.indices = np.ascontiguousarray(X.indices, dtype=np.int64)
    out.indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    return out
