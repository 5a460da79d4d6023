"""fastmlp.ops: the public GEMM entry point and the ISA switch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from fastmlp import ops


@pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_matches_numpy_with_transposes(trans_a, trans_b):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(17, 33) if not trans_a else (33, 17))
    B = rng.normal(size=(33, 3) if not trans_b else (3, 33))
    want = (A.T if trans_a else A) @ (B.T if trans_b else B)
    got = ops.gemm(A, B, trans_a=trans_a, trans_b=trans_b)
    assert got.dtype == np.float32 and got.shape == (17, 3)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_gemm_rejects_mismatched_inner_dimensions():
    with pytest.raises(ValueError, match="inner dimensions"):
        ops.gemm(np.ones((2, 3)), np.ones((4, 2)))


def test_unknown_isa_is_a_clear_error():
    with pytest.raises(ValueError, match="expected one of reference, baseline, avx2, avx512"):
        ops.gemm(np.ones((2, 2)), np.ones((2, 2)), isa="sse9")


def test_fastmlp_isa_environment_variable_forces_a_path():
    for isa in ops.supported_isas():
        env = dict(os.environ, FASTMLP_ISA=isa)
        out = subprocess.run([sys.executable, "-c", "from fastmlp import ops; print(ops.active_isa())"],
                             env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == isa


def _isa_from_proc_cpuinfo():
    """The best instruction set by the flags Linux reports (it drops the AVX /
    AVX-512 flags when the kernel does not save their register state)."""
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line for line in f if line.startswith("flags")]
    except OSError:
        return None
    if not lines:
        return None
    flags = set(lines[0].split(":", 1)[1].split())
    if {"avx512f", "avx512vl", "avx512dq", "fma"} <= flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    return "baseline"


def test_cpu_detection_agrees_with_the_operating_system():
    # cpuid + xgetbv in the native core against the kernel's own view of the CPU.
    expected = _isa_from_proc_cpuinfo()
    if expected is None:
        pytest.skip("no /proc/cpuinfo flags on this system")
    from fastmlp import _core

    assert _core.best_isa() == expected
    assert _core.supported_isas()[-1] == expected
