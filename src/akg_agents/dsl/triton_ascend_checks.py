"""What Triton-Ascend rejects, or silently ignores, that Triton on a GPU accepts: the static rules
of the triton_ascend DSL and the launch check that repeats the grid rule at run time.

Sources (facts, rephrased): Triton-Ascend's migration guide (prefer 1-D grids sized to the
physical AI cores; grid dimensions are bounded by the coreDim limit, 65535), its issue tracker and
downstream ports (num_warps / num_stages are not supported, only block sizes and multibuffer are
tunable; fp64 is not supported on A2/A3; PTX inline assembly and CUDA-only libdevice paths do not
exist on the NPU).
"""

from __future__ import annotations

import ast
from typing import Any

from akg_agents.dsl.base import Violation, dotted_name, walk_calls

MAX_GRID_PROGRAMS = 65535  # coreDim limit: the product of the grid's dimensions

CUDA_ONLY_CALLS = {
    "tl.inline_asm_elementwise": "inline assembly is PTX: the NPU has no PTX",
    "triton.language.inline_asm_elementwise": "inline assembly is PTX: the NPU has no PTX",
}
CUDA_ONLY_MODULES = ("triton.language.extra.cuda", "triton.language.extra.cuda.libdevice")
FP64_NAMES = {"tl.float64", "triton.language.float64", "torch.float64", "torch.double"}


def ascend_rules(tree: ast.Module) -> list[Violation]:
    """Rules a Triton kernel must follow on an Ascend NPU (the generic Triton ones come first)."""
    found: list[Violation] = []
    found += _cuda_device_rules(tree)
    found += _fp64_rules(tree)
    found += _launch_literal_rules(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(CUDA_ONLY_MODULES):
            found.append(Violation("ascend-unsupported", f"from {node.module} import ...: a CUDA-only module "
                                   "(use `from triton.language.extra import libdevice` or tl.* math)", node.lineno))
    return found


def _cuda_device_rules(tree: ast.Module) -> list[Violation]:
    """A CUDA device named in a candidate for the NPU fails at run time with a less useful error."""
    found = []
    for call in walk_calls(tree):
        name = dotted_name(call.func)
        if name in CUDA_ONLY_CALLS:
            found.append(Violation("ascend-unsupported", f"{name}(): {CUDA_ONLY_CALLS[name]}", call.lineno))
        elif isinstance(call.func, ast.Attribute) and call.func.attr == "cuda":
            found.append(Violation("ascend-cuda-device", f"{name or '.cuda'}(): the kernel runs on an NPU; keep tensors on "
                                   "the inputs' device (x.device) or use .npu()", call.lineno))
        for keyword in call.keywords:
            if keyword.arg == "device" and isinstance(keyword.value, ast.Constant) and str(keyword.value.value).startswith("cuda"):
                found.append(Violation("ascend-cuda-device", f"device={keyword.value.value!r}: the kernel runs on an NPU; "
                                       "use device=x.device", call.lineno))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and dotted_name(node).startswith("torch.cuda"):
            found.append(Violation("ascend-cuda-device", f"{dotted_name(node)}: CUDA APIs do not exist on an NPU "
                                   "(torch_npu's counterparts live in torch.npu)", node.lineno))
    return found


def _fp64_rules(tree: ast.Module) -> list[Violation]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and dotted_name(node) in FP64_NAMES:
            found.append(Violation("ascend-unsupported", f"{dotted_name(node)}: Atlas A2/A3 NPUs have no fp64 "
                                   "arithmetic (accumulate in tl.float32)", node.lineno))
    return found


def _launch_literal_rules(tree: ast.Module) -> list[Violation]:
    """`kernel[(70000,)](...)`: a grid written as constants that already exceeds the core limit."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript)):
            continue
        grid = node.func.slice
        dims = grid.elts if isinstance(grid, ast.Tuple) else [grid]
        values = [d.value for d in dims if isinstance(d, ast.Constant) and isinstance(d.value, int)]
        if len(values) == len(dims) and values and _product(values) > MAX_GRID_PROGRAMS:
            found.append(Violation("ascend-grid-limit", f"grid of {_product(values)} programs: Triton-Ascend launches "
                                   f"at most {MAX_GRID_PROGRAMS}; loop over blocks inside the kernel", node.lineno))
    return found


def _product(values: list[int]) -> int:
    total = 1
    for value in values:
        total *= value
    return total


class GridLimitError(RuntimeError):
    """Raised inside the worker when a launch asks for more programs than Triton-Ascend allows."""


def grid_programs(grid: Any, kwargs: dict[str, Any]) -> int | None:
    """Programs of one launch: `grid` is a tuple or a callable of the launch's meta-parameters
    (None when a callable grid needs more than the keyword arguments: Triton then checks it)."""
    if callable(grid):
        try:
            grid = grid(kwargs)
        except Exception:
            return None
    dims = grid if isinstance(grid, (tuple, list)) else (grid,)
    return _product([int(d) for d in dims])


def counts_launch(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """The launch counter's filter (JITFunction.run): warmup calls are not launches; a launch
    over the grid limit is stopped with a message the next prompt can act on."""
    if kwargs.get("warmup", False):
        return False
    grid = kwargs.get("grid")
    if grid is not None:
        programs = grid_programs(grid, kwargs)
        if programs is not None and programs > MAX_GRID_PROGRAMS:
            raise GridLimitError(f"launch of {programs} programs: Triton-Ascend allows at most {MAX_GRID_PROGRAMS} "
                                 "(coreDim); launch about one program per AI core and loop over blocks in the kernel")
    return True
