"""Runtime guards around a candidate's `forward`, inside the worker.

`ForwardGuard` is a TorchDispatchMode: every ATen op that `forward` reaches, from Python or from
C++ (a load_inline extension calling at::matmul too), passes through it. It

- records ops that compute (anything not an allocation, view, copy or fill): the math must run
  in the candidate's kernels, so `torch.relu` hidden behind getattr or a C++ helper is caught;
- poisons fresh allocations (NaN for floats, a sentinel for integers), so a kernel that skips
  work, or returns a buffer it never wrote, fails instead of passing on leftover memory.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from akg_agents.verify.taskrun import OutputCheckError, plain_outputs

__all__ = ["ForwardGuard", "OutputCheckError", "plain_outputs"]

# ATen ops forward may use: allocate, view, reshape, copy, fill, cast, query.
ALLOWED_OPS = {
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros", "zeros_like",
    "new_zeros", "ones", "ones_like", "new_ones", "full", "full_like", "new_full", "fill", "fill_",
    "zero", "zero_", "view", "_unsafe_view", "reshape", "_reshape_alias", "as_strided", "expand",
    "permute", "transpose", "t", "unsqueeze", "squeeze", "contiguous", "clone", "copy", "copy_",
    "_to_copy", "to", "detach", "alias", "slice", "select", "split", "split_with_sizes", "chunk",
    "narrow", "flatten", "unflatten", "lift_fresh", "unbind", "view_as", "resize_", "_local_scalar_dense",
    "is_same_size", "sym_size", "sym_stride", "sym_numel", "sym_storage_offset", "_has_compatible_shallow_copy_type",
    "arange", "scalar_tensor", "item", "record_stream",
}
ALLOCATIONS = {"empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided"}


def poison(tensor: torch.Tensor) -> None:
    """Fill with NaN (floats) or a sentinel (integers, bools): a value no honest kernel leaves."""
    if tensor.numel() == 0:
        return
    if tensor.is_floating_point() or tensor.is_complex():
        tensor.fill_(float("nan"))
    elif tensor.dtype == torch.bool:
        tensor.fill_(True)
    else:
        tensor.fill_(torch.iinfo(tensor.dtype).max)


class ForwardGuard(TorchDispatchMode):
    """`poison=False` (timed calls): only record compute ops, so the guard changes no value a
    kernel could notice; its small per-op cost is paid by the candidate, never by eager."""

    def __init__(self, poison: bool = True) -> None:
        super().__init__()
        self.forbidden: set[str] = set()
        self.poison = poison

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        name = func.overloadpacket.__name__
        if name not in ALLOWED_OPS:
            self.forbidden.add(f"aten.{name}")
        result = func(*args, **(kwargs or {}))
        if self.poison and name in ALLOCATIONS and isinstance(result, torch.Tensor):
            poison(result)
        return result


def _skip_dynamo_import() -> None:
    """torch wraps every `__torch_dispatch__` in `_disable_dynamo`, whose first call imports
    torch._dynamo (1.5 s idle, 4 s on a loaded 2-core machine: paid by every worker start).
    Nothing in the worker runs under dynamo while the guard is active, so we hand the wrapper
    the raw method as its cached "disabled" version; if torch changes this, the import simply
    happens as before."""
    raw = getattr(ForwardGuard.__torch_dispatch__, "__wrapped__", None)
    if raw is not None and getattr(raw, "__dynamo_disable", None) is None:
        raw.__dynamo_disable = raw  # the attribute name torch/_compile.py caches under


_skip_dynamo_import()
