"""Fixtures shared by the test modules."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

import fastmlp


@pytest.fixture
def one_thread():
    """fastmlp and numpy's BLAS on one thread for a test, restored afterwards.

    For tests of behaviour, not speed: on a machine whose cores are busy,
    two threads spend most of their time waiting for each other.
    """
    previous = fastmlp.get_num_threads()
    fastmlp.set_num_threads(1)
    try:
        with threadpool_limits(1):
            yield
    finally:
        fastmlp.set_num_threads(previous)


@pytest.fixture
def quiet_one_thread(one_thread):
    """one_thread, with ConvergenceWarning silenced for fits kept short on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield
