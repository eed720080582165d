"""The `cuda_c` DSL: CUDA C++ kernels, built by the fast loader (dsl/cuda_loader.py).

Candidates put their CUDA in a string, call `load_cuda(SOURCE)` once at import, and call the
`extern "C"` host launchers from `forward` with tensors and scalars. KernelBench-style
candidates that use `torch.utils.cpp_extension.load_inline` are accepted too; they take about
38 s per build on an H100 machine instead of one or two.
"""

from __future__ import annotations

import ast
import re
import shutil
from contextlib import AbstractContextManager

from akg_agents.dsl import cuda_loader
from akg_agents.dsl.base import Violation, cuda_device_problem, dotted_name, walk_calls
from akg_agents.dsl.native import LaunchCount, count_native_launches, export_with_loader, unexport_loader

LOADER_IMPORT = "from akg_agents.dsl.cuda_loader import load_cuda"

# Patterns in the CUDA source that move work out of the timed stream or off the GPU.
FORBIDDEN_SOURCE = {
    r"\bcudaStreamCreate\w*": "no extra streams: work on another stream escapes the timer",
    r"\bcudaLaunchHostFunc\b": "no host callbacks",
    r"\bstd::thread\b|\bpthread_create\b|\bstd::async\b": "no host threads",
    r"\bcudaGraphLaunch\b": "no graph replays of precomputed work",
    r"#\s*include\s*<(torch|ATen)/": "no torch headers in load_cuda sources (use raw pointers)",
}

CONTRACT = """\
Write a Python module that defines `class ModelNew(nn.Module)` with the same constructor
arguments and outputs as `Model`. The math runs in CUDA C++:
- Put the CUDA source in a string and build it once at import time:
      from akg_agents.dsl.cuda_loader import load_cuda
      _lib = load_cuda(CUDA_SOURCE)
  It is compiled with `nvcc -O3 -std=c++17 -arch=sm_XX` (the GPU's own arch) and cached.
- Write `__global__` kernels and export one `extern "C" void name(...)` host launcher per kernel
  that computes the grid and launches with `<<<grid, block, smem>>>` on stream 0. Call it as
  `_lib.name(t1, t2, n, eps)`: a torch.Tensor becomes a pointer to its data (contiguous, on the
  GPU), a Python int becomes `int64_t`, a float becomes `double`. Launch errors are raised.
- `forward` may only allocate outputs (torch.empty / empty_like), take views or `.contiguous()`,
  read shapes, and call the launchers. No torch math in `forward`, no streams, no threads, no
  try/except. No torch headers in the source: raw pointers only.
- Coalesce: consecutive threads touch consecutive addresses; use float4 loads where rows allow.
  Reduce within a warp with `__shfl_down_sync`, across warps through shared memory.
- Create parameters exactly as `Model` does (same modules or nn.Parameter shapes, same order),
  so the weights match under the same seed.
"""

EXAMPLE = '''\
import torch
import torch.nn as nn
from akg_agents.dsl.cuda_loader import load_cuda

CUDA_SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>

// y = max(x, 0). A grid-stride loop: each thread handles elements blockDim*gridDim apart, so
// a warp touches 32 consecutive floats per step (one 128-byte transaction: coalesced).
__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)blockDim.x * gridDim.x) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;  // keeps NaN as NaN, like torch.relu
    }
}

extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    const int threads = 256;  // 8 warps: enough to hide memory latency at full occupancy
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65535 * 8) blocks = 65535 * 8;  // the grid-stride loop covers the rest
    relu_kernel<<<(unsigned)blocks, threads>>>(x, y, n);
}
"""

_lib = load_cuda(CUDA_SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
'''


def source_strings(tree: ast.Module) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) > 20
    ]


class CudaCPlugin:
    name = "cuda_c"
    backend = "cuda"
    device_type = "cuda"
    language = "python"

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        found: list[Violation] = []
        names = {dotted_name(call.func) for call in walk_calls(tree)}
        if not any(n.endswith("load_cuda") or n.endswith("load_inline") for n in names):
            found.append(Violation("kernel-not-built", "the candidate never calls load_cuda(...) (or load_inline): no CUDA kernel is built"))
        sources = source_strings(tree)
        if not any("__global__" in text for _, text in sources):
            found.append(Violation("kernel-not-built", "no `__global__` kernel in any source string"))
        for line, text in sources:
            for pattern, why in FORBIDDEN_SOURCE.items():
                if pattern.startswith("#") and "load_inline" in names:
                    continue  # load_inline sources include torch/extension.h by design
                if re.search(pattern, text):
                    found.append(Violation("forbidden-api", f"CUDA source uses {re.search(pattern, text).group(0)}: {why}", line))  # type: ignore[union-attr]
        return found

    def instrument(self) -> AbstractContextManager[LaunchCount]:
        return count_native_launches(cuda_loader.LAUNCHES)

    def toolchain_problem(self) -> str | None:
        if cuda_loader.nvcc_path() is None:
            return "nvcc was not found: install the CUDA toolkit and set CUDA_HOME (or put nvcc on PATH)"
        if shutil.which("g++") is None and shutil.which("c++") is None:
            return "no host C++ compiler for nvcc: install g++"
        return cuda_device_problem()

    def export(self, code: str) -> str:
        return export_with_loader(code, cuda_loader, LOADER_IMPORT)

    def unexport(self, code: str) -> str:
        """What `export` made, back in candidate form (`akg_cli verify` of an exported kernel)."""
        return unexport_loader(code, cuda_loader, LOADER_IMPORT)

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE


PLUGIN = CudaCPlugin()
