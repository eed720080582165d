"""The 30 PolyBench/C 4.2.1 kernels, written in the loop-nest DSL.

Algorithms and dataset sizes follow PolyBench 4.2.1; the code is our own.  Scalars
that PolyBench keeps in local variables (``nrm``, ``w``, ``temp2``...) are 0-d arrays,
exactly as a polyhedral compiler sees them.
"""

from __future__ import annotations

from collections.abc import Callable

from ..dsl import Kernel
from . import linalg, solvers, stencils
from ._util import SIZES

__all__ = ["ORDER", "SIZES", "get", "names"]

# PolyBench's own order (datamining, blas, kernels, solvers, medley, stencils)
ORDER = ["correlation", "covariance", "2mm", "3mm", "atax", "bicg", "doitgen", "mvt", "gemm",
         "gemver", "gesummv", "symm", "syr2k", "syrk", "trmm", "cholesky", "durbin",
         "gramschmidt", "lu", "ludcmp", "trisolv", "deriche", "floyd-warshall", "nussinov",
         "adi", "fdtd-2d", "heat-3d", "jacobi-1d", "jacobi-2d", "seidel-2d"]

_BUILDERS: dict[str, Callable[[], Kernel]] = {**linalg.KERNELS, **solvers.KERNELS, **stencils.KERNELS}


def names() -> list[str]:
    return list(ORDER)


def get(name: str) -> Kernel:
    if name not in _BUILDERS:
        raise KeyError(f"unknown kernel {name!r}; known: {', '.join(ORDER)}")
    return _BUILDERS[name]()
