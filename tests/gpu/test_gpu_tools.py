"""compute-sanitizer report, the device pool on a GPU, the fast CUDA loader's cache."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from akg_agents.dsl import get_plugin
from akg_agents.records import Candidate, Status, Task
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.verify.evaluate import VerifySettings
from akg_agents.verify.sanitizer import sanitize, sanitizer_path

pytestmark = pytest.mark.gpu

ROOT = Path(__file__).parents[2]
RELU_TASK = Task(name="relu_gpu", source=(ROOT / "examples/tasks/relu.py").read_text())

OOB = '''
import torch
import torch.nn as nn
from akg_agents.dsl.cuda_loader import load_cuda

SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>
__global__ void relu_kernel(const float* x, float* y, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n + 4096) y[i] = x[i] < 0.0f ? 0.0f : x[i];   // planted out-of-bounds access
}
extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    relu_kernel<<<(unsigned)((n + 4096 + 255) / 256), 256>>>(x, y, n);
}
"""
_lib = load_cuda(SOURCE)

class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
'''


@pytest.mark.skipif(sanitizer_path() is None, reason="compute-sanitizer not installed")
def test_memcheck_finds_the_out_of_bounds_write(tmp_path: Path) -> None:
    report = sanitize(RELU_TASK, Candidate(id="oob", dsl="cuda_c", code=OOB), cache_dir=str(tmp_path),
                      env_extra={"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])})
    first = report.splitlines()[0]
    assert "no errors" not in first, report[:2000]
    assert "Invalid __global__" in report or "out of bounds" in report.lower(), report[:2000]


def test_device_pool_runs_on_gpu_zero(tmp_path: Path) -> None:
    pool = DevicePool.from_arg("0", str(tmp_path), VerifySettings(device="cuda", warmup_times=2, run_times=5))
    plugin = get_plugin("cuda_c")

    async def both() -> list:
        jobs = [pool.evaluate(RELU_TASK, Candidate(id=f"c{i}", dsl="cuda_c", code=plugin.example())) for i in range(2)]
        return await asyncio.wait_for(asyncio.gather(*jobs), 600)

    try:
        results = asyncio.run(both())
    finally:
        pool.close()
    assert [r.status for r in results] == [Status.PASSED, Status.PASSED], results[0].feedback()
    assert pool.slots[0].jobs == 2


def test_loader_cache_makes_the_second_build_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.dsl import cuda_loader

    monkeypatch.setenv("AKG_AGENTS_CACHE", str(tmp_path))
    source = "#include <cstdint>\n__global__ void k(float* x) { x[threadIdx.x] = 1.0f; }\n" \
             "extern \"C\" void launch(float* x) { k<<<1, 32>>>(x); }\n"
    start = time.perf_counter()
    first = cuda_loader.compile_cuda(source)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    assert cuda_loader.compile_cuda(source) == first
    assert time.perf_counter() - start < min(0.1, cold)
