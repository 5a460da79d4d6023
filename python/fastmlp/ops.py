"""Native kernels callable from Python, for tests and benchmarks."""

from typing import Optional

import numpy as np
import numpy.typing as npt

from . import _core

__all__ = ["active_isa", "gemm", "set_isa", "supported_isas"]


def gemm(A: npt.ArrayLike, B: npt.ArrayLike, *, trans_a: bool = False, trans_b: bool = False,
         isa: Optional[str] = None) -> npt.NDArray[np.float32]:
    """C = op(A) @ op(B) in float32 through fastmlp's GEMM.

    op(A) is A.T when trans_a (likewise B); the arrays are converted to
    C-contiguous float32 first. isa picks an instruction set by name
    ('reference', 'baseline', 'avx2', 'avx512'); None uses the active one.
    """
    A = np.ascontiguousarray(A, dtype=np.float32)
    B = np.ascontiguousarray(B, dtype=np.float32)
    return _core.gemm(A, B, bool(trans_a), bool(trans_b), "" if isa is None else isa)


def active_isa() -> str:
    """The instruction set the kernels use now (FASTMLP_ISA or the best the CPU has)."""
    return _core.active_isa()


def supported_isas() -> list[str]:
    """Instruction sets this CPU can run, from 'reference' up."""
    return list(_core.supported_isas())


def set_isa(name: str) -> None:
    """Switch every kernel to the named instruction set (for tests and benchmarks)."""
    _core.set_isa(name)
