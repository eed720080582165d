"""The `tilelang_cuda` DSL: `@T.prim_func` kernels built with `tilelang.compile` (or `@tilelang.jit`).

TileLang is imported lazily (inside `instrument`, `toolchain_problem`); this module imports with
the standard library alone. A compiled kernel is a `tilelang.jit.kernel.JITKernel`; every launch
goes through its `__call__`, which is what the launch counter wraps.
"""

from __future__ import annotations

import ast
import importlib.util
from contextlib import AbstractContextManager
from typing import Any

from akg_agents.dsl.base import Violation, count_method_calls, cuda_device_problem, dotted_name, walk_calls

CONTRACT = """\
Write a Python module that defines `class ModelNew(nn.Module)` with the same constructor
arguments and outputs as `Model`. The math runs in TileLang:
- `import tilelang` and `import tilelang.language as T`. Write the kernel as a `@T.prim_func`
  inside a builder function that takes the shapes and tile sizes, and compile it with
  `tilelang.compile(func, out_idx=[...])` (or decorate the builder with `@tilelang.jit(out_idx=...)`).
  Shapes are compile-time constants: build kernels in `__init__` when shapes are known there,
  else in `forward` once per input shape (keep them in a dict).
- Call the compiled kernel from `forward`: `y = kernel(x)` (outputs listed in out_idx are
  allocated by TileLang) or `kernel(x, y)`.
- `forward` may only allocate outputs, take views or `.contiguous()`, read shapes and call
  kernels. No torch math in `forward`, no streams, no threads, no try/except.
- Stage tiles through `T.alloc_shared` with `T.copy` (coalesced global loads, bounds handled),
  compute on `T.alloc_fragment` registers, use `T.gemm` for matrix products (tensor cores) and
  `T.Pipelined(..., num_stages=k)` to overlap loads with math. Accumulate in float32.
- Create parameters exactly as `Model` does (same modules or nn.Parameter shapes, same order),
  so the weights match under the same seed.
"""

EXAMPLE = '''\
import torch
import torch.nn as nn
import tilelang
import tilelang.language as T


def build_relu(M, N, block_M=32, block_N=256, dtype="float32"):
    @T.prim_func
    def relu(X: T.Tensor((M, N), dtype), Y: T.Tensor((M, N), dtype)):
        # One block of 256 threads per (block_M x block_N) tile. T.copy moves the tile through
        # shared memory with coalesced, vectorized accesses and masks the ragged edges.
        with T.Kernel(T.ceildiv(N, block_N), T.ceildiv(M, block_M), threads=256) as (bx, by):
            tile = T.alloc_shared((block_M, block_N), dtype)
            out = T.alloc_fragment((block_M, block_N), dtype)
            T.copy(X[by * block_M, bx * block_N], tile)
            for i, j in T.Parallel(block_M, block_N):
                out[i, j] = T.max(tile[i, j], T.cast(0, dtype))
            T.copy(out, Y[by * block_M, bx * block_N])

    return tilelang.compile(relu, out_idx=[1])


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self._kernels = {}

    def forward(self, x):
        x2 = x.contiguous().view(-1, x.shape[-1])
        key = tuple(x2.shape)
        if key not in self._kernels:
            self._kernels[key] = build_relu(*key)  # compiled once per shape
        return self._kernels[key](x2).view(x.shape)
'''


class TileLangCudaPlugin:
    name = "tilelang_cuda"
    backend = "cuda"
    device_type = "cuda"
    language = "python"

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        found: list[Violation] = []
        prim = any(
            dotted_name(d.func if isinstance(d, ast.Call) else d).endswith("prim_func")
            for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for d in node.decorator_list
        )
        if not prim:
            found.append(Violation("kernel-not-built", "no function is decorated with @T.prim_func"))
        builds = {dotted_name(call.func) for call in walk_calls(tree)} | {
            dotted_name(d.func if isinstance(d, ast.Call) else d)
            for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) for d in node.decorator_list
        }
        if not any(n in {"tilelang.compile", "tilelang.jit", "compile", "jit"} for n in builds):
            found.append(Violation("kernel-not-built", "the kernel is never compiled: call tilelang.compile(func, out_idx=...) or use @tilelang.jit"))
        return found

    def instrument(self) -> AbstractContextManager[Any]:
        """Count calls of compiled kernels (JITKernel.__call__)."""
        from tilelang.jit.kernel import JITKernel

        return count_method_calls(JITKernel, "__call__")

    def toolchain_problem(self) -> str | None:
        if importlib.util.find_spec("tilelang") is None:
            return "tilelang is not installed: pip install tilelang"
        return cuda_device_problem()

    def export(self, code: str) -> str:
        return code  # needs only torch and tilelang

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE


PLUGIN = TileLangCudaPlugin()
