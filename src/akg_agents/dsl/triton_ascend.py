"""The `triton_ascend` DSL: `@triton.jit` kernels on Huawei Ascend NPUs through Triton-Ascend.

Same language as triton_cuda, different machine: an Atlas A2/A3 NPU has a few dozen AI cores
(a cube unit for matrix products, vector units for everything else), each with a 192 KB Unified
Buffer (UB) instead of registers and shared memory. So kernels launch about one program per
core and loop over blocks; a block must fit the UB (twice, with multi-buffering); num_warps and
num_stages do not exist. The backend (dsl/backends/ascend.py) pins, synchronizes and times the
NPU; triton is imported lazily (this module imports with the standard library alone).
"""

from __future__ import annotations

import ast
import importlib.util
from contextlib import AbstractContextManager
from typing import Any

from akg_agents.dsl.base import Violation, count_method_calls
from akg_agents.dsl.registry import get_backend
from akg_agents.dsl.triton_ascend_checks import ascend_rules, counts_launch
from akg_agents.dsl.triton_cuda import jit_functions, launched_kernels

CONTRACT = """\
Write a Python module that defines `class ModelNew(nn.Module)` with the same constructor
arguments and outputs as `Model`. The math runs in Triton on an Ascend NPU (Triton-Ascend):
- `import torch_npu` (it registers the "npu" device), `import triton`, `import triton.language as tl`.
  Define kernels with `@triton.jit` and launch them from `forward` as `kernel[grid](args..., BLOCK=...)`.
- Tensors live on the inputs' device (`x.device`, an NPU): never write `device="cuda"`, `.cuda()`
  or `torch.cuda.*`; there is no fp64 on the NPU.
- Grid: about one program per AI core, at most 65535 programs in all. Read the core count once
  (`triton.runtime.driver.active.utils.get_device_properties(torch.npu.current_device())`:
  "num_vectorcore" for vector kernels, "num_aicore" for tl.dot kernels) and loop inside the
  kernel: `for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):`.
- A block lives in the core's Unified Buffer (192 KB on Atlas A2/A3), not in registers: every
  live tile (inputs, temporaries, output) counts, twice when multi-buffering is on. 4-16 K fp32
  elements per tile is typical; keep the last dimension a multiple of 32 bytes.
- No `num_warps` / `num_stages`: Triton-Ascend has no warps; tune BLOCK sizes (and
  `multibuffer=`) instead.
- `forward` may only allocate outputs (torch.empty / empty_like), take views or `.contiguous()`,
  read shapes and strides, and launch kernels. No torch math in `forward`, no streams, no
  threads, no try/except.
- Mask every load and store that can run past the end, with a neutral `other=`; accumulate in
  float32.
- Create parameters exactly as `Model` does (same modules or nn.Parameter shapes, same order),
  so the weights match under the same seed.
"""

EXAMPLE = '''\
import functools

import torch
import torch.nn as nn
import torch_npu  # noqa: F401  (registers the "npu" device)
import triton
import triton.language as tl


@functools.lru_cache(maxsize=None)
def vector_cores(index):
    # The NPU's vector cores: one program per core, each looping over its share of the blocks.
    return triton.runtime.driver.active.utils.get_device_properties(index)["num_vectorcore"]


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, num_blocks, BLOCK: tl.constexpr):
    # Grid-stride loop: program p handles blocks p, p + P, p + 2P, ... (P = programs launched).
    # Each block is one DMA of BLOCK contiguous elements into the Unified Buffer and one back.
    for blk in range(tl.program_id(0), num_blocks, tl.num_programs(0)):
        offs = blk.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n  # the last block runs past the end
        x = tl.load(x_ptr + offs, mask=mask, other=0.0)
        tl.store(y_ptr + offs, tl.where(x < 0, 0.0, x), mask=mask)  # keeps NaN, like torch.relu


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        n = x.numel()
        BLOCK = 8192  # 32 KB of fp32 per tile: x and y, double-buffered, stay well inside the UB
        num_blocks = triton.cdiv(n, BLOCK)
        grid = (min(num_blocks, vector_cores(x.device.index)),)
        relu_kernel[grid](x, y, n, num_blocks, BLOCK=BLOCK)
        return y
'''


class TritonAscendPlugin:
    name = "triton_ascend"
    backend = "ascend"
    device_type = "npu"
    language = "python"
    # Triton-Ascend compiles for the Atlas A2/A3 (910B, 910_93) generation only.
    unsupported_archs = {"ascend310p3": "Triton-Ascend targets Atlas A2/A3 NPUs (910B, 910_93), not the 310P"}

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        kernels = jit_functions(tree)
        if not kernels:
            return [Violation("kernel-not-built", "no function is decorated with @triton.jit")]
        found = []
        if not kernels & launched_kernels(tree):
            found.append(Violation("kernel-not-launched",
                                   f"no @triton.jit kernel ({', '.join(sorted(kernels))}) is launched as kernel[grid](...)"))
        return found + ascend_rules(tree)

    def instrument(self) -> AbstractContextManager[Any]:
        """Count real launches (JITFunction.run, warmup excluded) and stop launches over the grid limit."""
        from triton.runtime.jit import JITFunction

        return count_method_calls(JITFunction, "run", counts_launch)

    def toolchain_problem(self) -> str | None:
        problem = get_backend(self.backend).runtime_problem()
        if problem:
            return problem
        if importlib.util.find_spec("triton") is None:
            return "triton (Triton-Ascend) is not installed: pip install triton-ascend (it needs CANN's bishengir-compile on PATH)"
        return None

    def export(self, code: str) -> str:
        return code  # needs only torch, torch_npu and triton-ascend

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE

    def builtin_candidates(self, task: Any, count: int, threads: int = 0) -> list[Any]:
        """The built-in Triton generator's kernels, adapted to the NPU (dsl/triton_ascend_builtin.py)."""
        from akg_agents.dsl.triton_ascend_builtin import ascend_candidates

        return ascend_candidates(task, count, threads)


PLUGIN = TritonAscendPlugin()
