"""Input normalization fitted on training data and kept with the model."""

import numpy as np

from . import _idx
from ._sparse import SPARSE_NORMALIZE_ADVICE, is_sparse, native_csr

KINDS = (None, "zscore", "minmax")


# Rows per block of the statistics' passes: the float64 temporaries stay a
# few MB however large X is (a memory-mapped X is read, never copied whole).
_BLOCK_ROWS = 16384


def _mean_and_deviation(X, comm=None):
    """Per-feature mean and standard deviation in float64, in two passes over row
    blocks; with comm, over every rank's rows."""
    def total(values):
        return values if comm is None else comm.sum(values)

    blocks = [X[start:start + _BLOCK_ROWS] for start in range(0, X.shape[0], _BLOCK_ROWS)]
    n = total(np.array([float(X.shape[0])]))[0]
    sums = np.zeros(X.shape[1])
    for block in blocks:
        sums += np.sum(block, axis=0, dtype=np.float64)
    mean = total(sums) / n
    squares = np.zeros(X.shape[1])
    for block in blocks:
        squares += np.sum(np.square(block - mean), axis=0)
    return mean, np.sqrt(total(squares) / n)


class Normalizer:
    """Per-feature affine map x -> (x - offset) * scale.

    zscore: offset = mean, scale = 1 / std; minmax: offset = min,
    scale = 1 / (max - min). A constant feature gets scale 1, so it maps to 0
    instead of dividing by zero.
    """

    def __init__(self, kind):
        if kind not in KINDS:
            raise ValueError(f"unknown normalize {kind!r}: expected one of None, 'zscore', 'minmax'")
        self.kind = kind
        self.offset_ = None
        self.scale_ = None

    @property
    def fitted(self):
        return self.kind is None or self.offset_ is not None

    def fit(self, X, comm=None):
        """Statistics of X's rows; with comm (a fastmlp.distributed.Communicator)
        of every rank's rows: the mean and deviation in two passes of sums,
        the extremes exactly."""
        if self.kind is None:
            return self
        self._refuse_sparse(X)
        if self.kind == "zscore":
            offset, spread = _mean_and_deviation(X, comm)
        elif comm is not None:
            offset, spread = self._extremes_over_ranks(X, comm)
        else:
            offset = np.min(X, axis=0).astype(np.float64)
            spread = np.max(X, axis=0).astype(np.float64) - offset
        spread[~(spread > 0)] = 1.0
        self.offset_ = offset.astype(np.float32)
        self.scale_ = (1.0 / spread).astype(np.float32)
        return self

    @staticmethod
    def _extremes_over_ranks(X, comm):
        empty = X.shape[0] == 0
        low = np.full(X.shape[1], np.inf) if empty else np.min(X, axis=0).astype(np.float64)
        high = np.full(X.shape[1], -np.inf) if empty else np.max(X, axis=0).astype(np.float64)
        low, high = comm.min_max(low, high)
        return low, high - low

    def _refuse_sparse(self, X):
        if is_sparse(X):
            statistic = "mean" if self.kind == "zscore" else "minimum"
            raise ValueError(SPARSE_NORMALIZE_ADVICE.format(kind=self.kind, statistic=statistic))

    def set_state(self, offset, scale):
        self.offset_ = None if offset is None else np.asarray(offset, dtype=np.float32)
        self.scale_ = None if scale is None else np.asarray(scale, dtype=np.float32)

    def transform(self, X, dtype):
        """C-contiguous array of `dtype` (a sparse X: the native core's CSR);
        uint8 input takes the fused Cython path."""
        if self.kind is None:
            return native_csr(X, dtype) if is_sparse(X) else np.ascontiguousarray(X, dtype=dtype)
        self._refuse_sparse(X)
        if not self.fitted:
            raise RuntimeError("the normalizer is not fitted yet: call fit first")
        if X.dtype == np.uint8 and dtype == np.float32:
            out = np.empty(X.shape, dtype=np.float32)
            _idx.scale_uint8(out, X, self.offset_, self.scale_)
            return out
        out = np.array(X, dtype=dtype, order="C", copy=True)
        out -= self.offset_.astype(dtype)
        out *= self.scale_.astype(dtype)
        return out
