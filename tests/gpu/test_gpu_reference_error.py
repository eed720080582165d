"""On a GPU: a kernel more accurate than PyTorch's own fp32 output passes, against the referee's
float64 reference, and the verdict says so; an fp16 kernel on the same task still fails.

The task is a row variance written E[x^2] - E[x]^2 over values near 100: its two fp32 means of
about 1e4 cancel to about 1, so PyTorch's output is off the exact value by up to ~3e-3 (on an
H200 with torch 2.11: 3363 of 4096 rows beyond the fp32 tolerance). KernelBench's
37_FrobeniusNorm, by contrast, is accurate there (4e-8 relative at 67M and 1.9G elements), and a
float64 kernel for it passes against PyTorch itself, with no float64 look."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from akg_agents.records import Candidate, Status, Task
from akg_agents.verify.evaluate import Verifier, VerifySettings

pytestmark = pytest.mark.gpu

VARIANCE = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return (x * x).mean(dim=1) - x.mean(dim=1) ** 2


batch_size = 4096
dim = 65536


def get_inputs():
    return [torch.randn(batch_size, dim) + 100.0]


def get_init_inputs():
    return []
'''

# One program per row, two passes (mean, squared deviations) in float64, stored as fp32; `widen`
# is how a loaded value becomes float64 (directly, or through fp16 for the kernel that must fail).
VARIANCE_KERNEL = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def widen(v):
    return v.to(tl.float64)


@triton.jit
def row_var_kernel(x_ptr, y_ptr, cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    base = x_ptr + row.to(tl.int64) * cols
    acc = tl.zeros([BLOCK], dtype=tl.float64)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += widen(tl.load(base + offs, mask=offs < cols, other=0.0))
    mean = tl.sum(acc, axis=0) / cols
    acc2 = tl.zeros([BLOCK], dtype=tl.float64)
    for start in range(0, cols, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        d = tl.where(offs < cols, widen(tl.load(base + offs, mask=offs < cols, other=0.0)) - mean, 0.0)
        acc2 += d * d
    tl.store(y_ptr + row, (tl.sum(acc2, axis=0) / cols).to(tl.float32))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        row_var_kernel[(x.shape[0],)](x, y, x.shape[1], BLOCK=2048, num_warps=8)
        return y
'''
VARIANCE_HALF_INPUTS = VARIANCE_KERNEL.replace("return v.to(tl.float64)", "return v.to(tl.float16).to(tl.float64)")

FROBENIUS = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.norm(x, p='fro')
        return x / norm


batch_size = 16
features = 64
dim1 = 256
dim2 = 256


def get_inputs():
    x = torch.rand(batch_size, features, dim1, dim2)
    return [x]


def get_init_inputs():
    return []
'''

FROBENIUS_FLOAT64 = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def sumsq_kernel(x_ptr, part_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0).to(tl.float64)
    tl.store(part_ptr + pid, tl.sum(x * x, axis=0))


@triton.jit
def norm_kernel(part_ptr, norm_ptr, m, BLOCK: tl.constexpr):
    acc = tl.zeros([BLOCK], dtype=tl.float64)
    for start in range(0, m, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        acc += tl.load(part_ptr + offs, mask=offs < m, other=0.0)
    tl.store(norm_ptr, tl.sqrt(tl.sum(acc, axis=0)))


@triton.jit
def scale_kernel(x_ptr, norm_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + offs, mask=offs < n, other=0.0)
    tl.store(y_ptr + offs, (x.to(tl.float64) / tl.load(norm_ptr)).to(tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        n = x.numel()
        blocks = triton.cdiv(n, 4096)
        parts = torch.empty(blocks, dtype=torch.float64, device=x.device)
        norm = torch.empty(1, dtype=torch.float64, device=x.device)
        y = torch.empty_like(x)
        sumsq_kernel[(blocks,)](x, parts, n, BLOCK=4096, num_warps=8)
        norm_kernel[(1,)](parts, norm, blocks, BLOCK=1024, num_warps=4)
        scale_kernel[(blocks,)](x, norm, y, n, BLOCK=4096, num_warps=8)
        return y
'''


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifier]:
    v = Verifier(VerifySettings(device="cuda", timeout_s=240.0, warmup_times=2, run_times=6),
                 str(tmp_path_factory.mktemp("gpu_reference_error")))
    yield v
    v.close()


def test_pytorch_fp32_variance_is_off_by_more_than_the_tolerance() -> None:
    torch.manual_seed(0)
    x = torch.randn(4096, 65536, device="cuda") + 100.0
    ref32 = (x * x).mean(1) - x.mean(1) ** 2
    x64 = x.double()
    ref64 = (x64 * x64).mean(1) - x64.mean(1) ** 2
    over = (ref32.double() - ref64).abs() > 1e-4 * ref64.pow(2).mean().sqrt() + 1e-4 * ref64.abs()
    print(f"PyTorch fp32 variance: {int(over.sum())} of {over.numel()} rows beyond the fp32 tolerance")
    assert int(over.sum()) > 100


def test_a_float64_kernel_passes_against_the_float64_reference(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("variance", VARIANCE), Candidate("f64", "triton_cuda", VARIANCE_KERNEL))
    print(result.status.value, result.message, result.timings_s)
    assert result.status is Status.PASSED, result.feedback()
    assert "float64 reference within fp32 reference error" in result.message
    assert result.profile is not None and result.profile.timed_checked == result.profile.input_sets > 0


def test_a_kernel_reading_its_inputs_at_half_precision_still_fails(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("variance", VARIANCE), Candidate("half", "triton_cuda", VARIANCE_HALF_INPUTS))
    print(result.status.value, result.message)
    assert result.status is Status.MISMATCH, result.feedback()
    assert result.mismatch is not None and "float64 reference" in result.mismatch.detail


def test_frobenius_norm_in_float64_matches_pytorch_itself(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("frobenius", FROBENIUS), Candidate("f64", "triton_cuda", FROBENIUS_FLOAT64))
    print(result.status.value, result.message, result.timings_s)
    assert result.status is Status.PASSED, result.feedback()
    assert result.message == "matches PyTorch on seeds [0, 1, 2]"
