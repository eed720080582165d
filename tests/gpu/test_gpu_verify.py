"""End to end on a GPU: each DSL's example passes the verifier; cheats and bugs do not."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from akg_agents.dsl import get_plugin
from akg_agents.records import Candidate, Status, Task
from akg_agents.verify.evaluate import Verifier, VerifySettings

pytestmark = pytest.mark.gpu

RELU_TASK = Task(name="relu_gpu", source=(Path(__file__).parents[2] / "examples/tasks/relu.py").read_text())
SETTINGS = VerifySettings(device="cuda", timeout_s=240.0, warmup_times=3, run_times=10)


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Verifier:
    v = Verifier(SETTINGS, str(tmp_path_factory.mktemp("gpu_cache")))
    yield v
    v.close()


@pytest.mark.parametrize("dsl", ["triton_cuda", "cuda_c", "tilelang_cuda"])
def test_example_passes_and_is_profiled(verifier: Verifier, dsl: str) -> None:
    if dsl == "tilelang_cuda" and importlib.util.find_spec("tilelang") is None:
        pytest.skip("tilelang is not installed")
    result = verifier.evaluate(RELU_TASK, Candidate(id=dsl, dsl=dsl, code=get_plugin(dsl).example()))
    assert result.status is Status.PASSED, result.feedback()
    assert result.profile is not None and result.profile.candidate.median_ms > 0
    assert not any("roofline" in flag or "outside the timed stream" in flag for flag in result.profile.flags)


NO_LAUNCH = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl

@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)

class ModelNew(nn.Module):
    def forward(self, x):
        if x.numel() < 0:
            relu_kernel[(1,)](x, x, 0, BLOCK=16)
        return torch.empty_like(x)
'''

HALF_WRITTEN = '''
import torch
import torch.nn as nn
from akg_agents.dsl.cuda_loader import load_cuda

SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>
__global__ void relu_kernel(const float* x, float* y, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n / 2) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    relu_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, y, n);
}
"""
_lib = load_cuda(SOURCE)

class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
'''

COMPILE_ERROR = HALF_WRITTEN.replace("int64_t i =", "int64_t i = undefined_symbol +")


def test_kernel_never_launched_is_rejected(verifier: Verifier) -> None:
    result = verifier.evaluate(RELU_TASK, Candidate(id="nolaunch", dsl="triton_cuda", code=NO_LAUNCH))
    assert result.status is Status.REJECTED
    assert result.rule == "kernel-not-launched"


def test_unwritten_output_is_a_mismatch(verifier: Verifier) -> None:
    result = verifier.evaluate(RELU_TASK, Candidate(id="half", dsl="cuda_c", code=HALF_WRITTEN))
    assert result.status is Status.MISMATCH
    assert result.mismatch is not None and result.mismatch.bad_count > 0


def test_nvcc_error_reaches_the_feedback(verifier: Verifier) -> None:
    result = verifier.evaluate(RELU_TASK, Candidate(id="cerr", dsl="cuda_c", code=COMPILE_ERROR))
    assert result.status is Status.COMPILE_ERROR
    assert "undefined_symbol" in result.log_tail


def test_builtin_triton_layernorm_passes(verifier: Verifier) -> None:
    from akg_agents.builtin.triton_codegen import triton_candidates

    task = Task(name="layernorm", source=(Path(__file__).parents[2] / "examples/tasks/layernorm.py").read_text())
    for candidate in triton_candidates(task, 2):
        result = verifier.evaluate(task, candidate)
        assert result.status is Status.PASSED, result.feedback()
