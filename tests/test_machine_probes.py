"""The benchmarks' ceilings: the FMA-peak and read-bandwidth probes of `_core`.

Only whether they run and refuse bad arguments is tested here: their figures
belong in benchmarks, never in timed tests.
"""

import pytest

from fastmlp import _core


def probed_isas():
    return [isa for isa in ("avx2", "avx512") if isa in _core.supported_isas()]


@pytest.mark.parametrize("threads", [1, 2])
def test_fma_peak_runs_on_each_supported_instruction_set(threads):
    if not probed_isas():
        pytest.skip("no AVX2 or AVX-512 on this CPU")
    for isa in probed_isas():
        assert _core.fma_peak(isa, threads=threads, seconds=0.03) > 0


def test_fma_peak_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="no FMA peak probe for instruction set 'reference'"):
        _core.fma_peak("reference", seconds=0.01)
    with pytest.raises(ValueError, match="unknown instruction set 'sse9'"):
        _core.fma_peak("sse9")
    with pytest.raises(ValueError, match="threads must be >= 1, got 0"):
        _core.fma_peak(threads=0)
    with pytest.raises(ValueError, match="seconds must be in"):
        _core.fma_peak(seconds=0)


def test_read_bandwidth_runs_or_says_why_not():
    if "avx512" not in _core.supported_isas():
        with pytest.raises(ValueError, match="needs AVX-512"):
            _core.read_bandwidth(4096, seconds=0.01)
        return
    for size in (1000, 1 << 16):  # rounded up to whole 512-byte trips
        assert _core.read_bandwidth(size, threads=2, seconds=0.02) > 0
    with pytest.raises(ValueError, match="bytes must be in"):
        _core.read_bandwidth(0)
