"""Chains of convolution / pooling layers (KernelBench 86, depthwise-separable convolution, and
chains it does not use: convolution then pooling, transposed then strided, three layers) on
Triton under the CPU interpreter, against the task's Model: every candidate (one kernel per
layer, and 86's fused depthwise + pointwise kernel), other input sizes and constructor arguments
than the traced ones, fp16, the guards."""

from __future__ import annotations

import pytest
import torch
from builtin_interp import interpreter, kernelbench, load, run_against_model
from chain_tasks import chain_task

from akg_agents.builtin.generator import generate

interpreter()

SIZES_86 = {"batch_size": 2, "in_channels": 3, "out_channels": 17, "height": 9, "width": 11}

def test_every_candidate_of_kernelbench_86() -> None:
    task = kernelbench("86", SIZES_86)
    candidates = generate(task, "triton_cuda", 8)
    assert [c.params["kind"] for c in candidates[:3]] == ["per_layer", "fused", "fused"]
    # depthwise: the direct kernel; pointwise with 17 output channels: implicit GEMM
    assert [layer["kind"] for layer in candidates[0].params["layers"]] == ["direct", "gemm"]
    for candidate in candidates:
        if candidate.params["kind"] == "per_layer":
            assert "class _Layer0" in candidate.code and "class _Layer1" in candidate.code
        else:
            assert "def akg_dw_pw" in candidate.code
        run_against_model(task, candidate.code)
        run_against_model(task, candidate.code, inputs=[torch.rand(1, 3, 6, 14)])


def test_fused_kernel_over_several_channel_chunks() -> None:
    """70 channels: two full chunks of 32 and a remainder; 130 output channels: two N tiles."""
    task = kernelbench("86", {**SIZES_86, "in_channels": 70, "out_channels": 130, "height": 5, "width": 7})
    candidate = generate(task, "triton_cuda", 2)[1]
    assert candidate.params["kind"] == "fused"
    run_against_model(task, candidate.code)


@pytest.mark.parametrize("which", [0, 1])  # per layer, fused
def test_kernelbench_86_with_other_constructor_arguments(which: int) -> None:
    task = kernelbench("86", SIZES_86)
    code = generate(task, "triton_cuda", 2)[which].code
    ref, new = load(task.source, "ref"), load(code, "cand")
    x = torch.rand(2, 4, 13, 10)
    for args in ((4, 5, 5, 2, 2, 1, True), (4, 16, 3, 1, 2, 2, False), (4, 3, 2, 3, 0, 1, True)):
        torch.manual_seed(0)
        model = ref.Model(*args)
        torch.manual_seed(0)
        candidate = new.ModelNew(*args)
        with torch.no_grad():
            torch.testing.assert_close(candidate(x), model(x), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("which", [0, 1])
def test_kernelbench_86_fp16(which: int) -> None:
    task = kernelbench("86", SIZES_86)
    candidate = generate(task, "triton_cuda", 2, precision="fp16")[which]
    assert "float16" in candidate.code
    run_against_model(task, candidate.code, dtype=torch.float16, tol=1e-2)


@pytest.mark.parametrize(("layers", "shape"), [
    (["nn.Conv2d(3, 16, 3, padding=1, bias=True)", "nn.MaxPool2d(2, stride=2, ceil_mode=True)"], "2, 3, 9, 11"),
    (["nn.ConvTranspose1d(4, 16, 3, stride=2)", "nn.Conv1d(16, 16, 5, stride=3, dilation=2)"], "2, 4, 13"),
    (["nn.AvgPool3d(2, padding=1)", "nn.Conv3d(2, 16, 2, groups=2)", "nn.MaxPool3d(2)"], "1, 2, 5, 7, 6"),
])
def test_other_chains(layers: list[str], shape: str) -> None:
    task = chain_task(layers, shape)
    candidate = generate(task, "triton_cuda", 1)[0]
    assert f"class _Layer{len(layers) - 1}" in candidate.code
    run_against_model(task, candidate.code)


@pytest.mark.parametrize(("which", "message"), [(0, "generated for 2-D convolution"),
                                                (1, "generated for a depthwise-separable 2-D convolution")])
def test_guards_name_the_specialization(which: int, message: str) -> None:
    task = kernelbench("86", SIZES_86)
    model = load(generate(task, "triton_cuda", 2)[which].code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match=message):
        model(torch.rand(2, 3, 9))
    with pytest.raises(ValueError, match=message):
        model(torch.rand(2, 4, 9, 9))
