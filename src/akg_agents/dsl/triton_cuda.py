"""The `triton_cuda` DSL: `@triton.jit` kernels launched as `kernel[grid](...)` on NVIDIA GPUs.

Triton is imported lazily (inside `instrument`, `toolchain_problem`): this module imports with
the standard library alone, so the parent process never pays for, or needs, a GPU stack.
"""

from __future__ import annotations

import ast
import importlib.util
from contextlib import AbstractContextManager
from typing import Any

from akg_agents.dsl.base import Violation, count_method_calls, cuda_device_problem, dotted_name

JIT_DECORATORS = {"triton.jit", "jit", "triton.autotune", "autotune", "triton.heuristics", "heuristics"}

CONTRACT = """\
Write a Python module that defines `class ModelNew(nn.Module)` with the same constructor
arguments and outputs as `Model`. The math runs in Triton:
- Define kernels with `@triton.jit` (optionally under `@triton.autotune`) and launch them from
  `forward` as `kernel[grid](args..., BLOCK=...)`. `import triton` and
  `import triton.language as tl` are available.
- `forward` may only allocate outputs (torch.empty / empty_like), take views or `.contiguous()`,
  read shapes and strides, and launch kernels. No torch math in `forward`, no streams, no
  threads, no try/except.
- Mask every load and store whose block can run past the end (`mask=offs < n`), and give masked
  loads an `other=` that is neutral for the operation (0 for sums, -inf for maxima).
- Accumulate reductions in float32 (`.to(tl.float32)`) even for fp16/bf16 inputs.
- Create parameters exactly as `Model` does (same modules or nn.Parameter shapes, same order),
  so the weights match under the same seed.
"""

EXAMPLE = '''\
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    # One program per BLOCK contiguous elements: each warp reads 32 x 4 consecutive floats
    # (128-bit vector loads), so every memory transaction is fully used (coalesced).
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n  # the last block runs past the end
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, tl.where(x < 0, 0.0, x), mask=mask)  # keeps NaN, like torch.relu


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        BLOCK = 4096  # big blocks: fewer programs, enough bytes in flight per SM to cover latency
        relu_kernel[(triton.cdiv(n, BLOCK),)](x, y, n, BLOCK=BLOCK, num_warps=8)
        return y
'''


def jit_functions(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if dotted_name(target) in JIT_DECORATORS:
                    found.add(node.name)
    return found


def launched_kernels(tree: ast.AST) -> set[str]:
    """Names used as `name[grid](...)` anywhere in `tree`."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Subscript):
            name = dotted_name(node.func.value)
            if name:
                found.add(name.rsplit(".", 1)[-1])
    return found


class TritonCudaPlugin:
    name = "triton_cuda"
    backend = "cuda"
    device_type = "cuda"
    language = "python"

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        kernels = jit_functions(tree)
        if not kernels:
            return [Violation("kernel-not-built", "no function is decorated with @triton.jit")]
        if not kernels & launched_kernels(tree):
            return [Violation("kernel-not-launched", f"no @triton.jit kernel ({', '.join(sorted(kernels))}) is launched as kernel[grid](...)")]
        return []

    def instrument(self) -> AbstractContextManager[Any]:
        """Count real launches: every `kernel[grid](...)` goes through JITFunction.run (warmup calls excluded)."""
        from triton.runtime.jit import JITFunction

        return count_method_calls(JITFunction, "run", lambda args, kwargs: not kwargs.get("warmup", False))

    def toolchain_problem(self) -> str | None:
        if importlib.util.find_spec("triton") is None:
            return "triton is not installed: pip install triton (it ships with CUDA builds of torch)"
        return cuda_device_problem()

    def export(self, code: str) -> str:
        return code  # a Triton candidate needs only torch and triton already

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE


PLUGIN = TritonCudaPlugin()
