"""threadpoolctl sees fastmlp's OpenMP runtime and threadpool_limits limits it.

Users limit every native thread pool in a process with
`threadpoolctl.threadpool_limits(n)` (scikit-learn does so inside some of its
own code); fastmlp's kernels run on the OpenMP runtime its extension links, so
that runtime has to be the one threadpoolctl finds and limits.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import fastmlp
from fastmlp import _core

needs_openmp = pytest.mark.skipif(not _core.has_openmp, reason="built without OpenMP")


def _openmp_pools():
    return [pool for pool in threadpool_info() if pool["user_api"] == "openmp"]


def _linked_openmp_paths():
    """Real paths of the OpenMP libraries mapped into this process (Linux)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc/self/maps")
    paths = set()
    for line in maps.read_text().splitlines():
        path = line.split()[-1] if len(line.split()) >= 6 else ""
        name = os.path.basename(path)
        if name.startswith(("libgomp", "libomp", "libiomp")):
            paths.add(os.path.realpath(path))
    return paths


@needs_openmp
def test_threadpoolctl_reports_the_openmp_runtime_fastmlp_loaded():
    pools = _openmp_pools()
    assert pools, f"threadpoolctl found no OpenMP runtime: {threadpool_info()}"
    reported = {os.path.realpath(pool["filepath"]) for pool in pools}
    if sys.platform.startswith("linux"):
        # Every OpenMP runtime in the process is one threadpoolctl reports,
        # so none of them (the one fastmlp's _core links in particular)
        # escapes threadpool_limits.
        assert _linked_openmp_paths() <= reported


@needs_openmp
def test_threadpool_limits_sets_and_restores_fastmlp_threads():
    before = fastmlp.get_num_threads()
    with threadpool_limits(1):
        assert fastmlp.get_num_threads() == 1
    assert fastmlp.get_num_threads() == before
    with threadpool_limits(limits=1, user_api="openmp"):
        assert fastmlp.get_num_threads() == 1
    assert fastmlp.get_num_threads() == before


# In a fresh process (so no OpenMP worker exists yet), the number of OS
# threads before and after a GEMM large enough to run in parallel: under
# threadpool_limits(1) the OpenMP runtime starts no worker; with two threads
# allowed it does. numpy's BLAS starts its own threads at import (and older
# OpenBLAS builds may start one when threadpoolctl sets its limit), so the
# count is taken after the imports, inside the limit.
_THREAD_COUNT_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    from threadpoolctl import threadpool_limits
    import fastmlp

    def threads():
        return len(os.listdir("/proc/self/task"))

    A = np.ones((512, 512), np.float32)
    with threadpool_limits(1):
        # Counted inside the limit: setting it may make a BLAS resize its pool.
        start = threads()
        for _ in range(3):
            fastmlp.ops.gemm(A, A)
        limited = threads()
    fastmlp.set_num_threads(2)
    for _ in range(3):
        fastmlp.ops.gemm(A, A)
    json.dump({"start": start, "limited": limited, "free": threads()}, sys.stdout)
    """
)


@needs_openmp
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="counts threads in /proc")
def test_threadpool_limits_one_starts_no_openmp_worker():
    import json

    env = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    run = subprocess.run([sys.executable, "-c", _THREAD_COUNT_SCRIPT], capture_output=True,
                         text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout)
    assert counts["limited"] == counts["start"], counts
    assert counts["free"] > counts["limited"], counts
