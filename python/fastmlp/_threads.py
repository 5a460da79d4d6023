"""The native core's OpenMP thread count for the length of a block."""

import contextlib

from . import _core


@contextlib.contextmanager
def native_threads(n_threads):
    """Run the block with `n_threads` OpenMP threads, then restore the global setting.

    n_threads is None (leave the setting alone) or a positive int.
    """
    if n_threads is None:
        yield
        return
    previous = _core.get_num_threads()
    _core.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        _core.set_num_threads(previous)
