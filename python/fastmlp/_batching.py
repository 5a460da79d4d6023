"""The batch plan: which rows each epoch visits, in what order, how many at once.

Python decides the plan; the native epoch executes it.
"""

import numpy as np

from ._validation import check_positive_int


def resolve_batch_size(batch_size, n_samples):
    """None means full batch, 1 stochastic, k mini-batches (capped at n_samples)."""
    if batch_size is None:
        return n_samples
    return min(check_positive_int(batch_size, "batch_size"), n_samples)


def epoch_order(n_samples, rng, shuffle):
    """Row indices for one epoch: a fresh permutation from the model's generator, or 0..n-1."""
    if shuffle:
        return rng.permutation(n_samples).astype(np.int64)
    return np.arange(n_samples, dtype=np.int64)
