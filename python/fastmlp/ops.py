"""Native kernels callable from Python, for tests and benchmarks."""

import numpy as np

from . import _core

__all__ = ["gemm", "active_isa", "supported_isas", "set_isa"]


def gemm(A, B, *, trans_a=False, trans_b=False, isa=None):
    """C = op(A) @ op(B) in float32 through fastmlp's GEMM.

    op(A) is A.T when trans_a (likewise B); the arrays are converted to
    C-contiguous float32 first. isa picks an instruction set by name
    ('reference', 'baseline', 'avx2', 'avx512'); None uses the active one.
    """
    A = np.ascontiguousarray(A, dtype=np.float32)
    B = np.ascontiguousarray(B, dtype=np.float32)
    return _core.gemm(A, B, bool(trans_a), bool(trans_b), "" if isa is None else isa)


def active_isa():
    """The instruction set the kernels use now (FASTMLP_ISA or the best the CPU has)."""
    return _core.active_isa()


def supported_isas():
    """Instruction sets this CPU can run, from 'reference' up."""
    return list(_core.supported_isas())


def set_isa(name):
    """Switch every kernel to the named instruction set (for tests and benchmarks)."""
    _core.set_isa(name)
