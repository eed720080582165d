"""Built-in Triton convolutions under Triton's CPU interpreter, against the task's Model:
KernelBench level-1 convolutions (standard, transposed, grouped, strided, dilated, depthwise,
pointwise; 1-D, 2-D, 3-D) at small odd sizes, fp16, other constructor arguments and input
sizes than the traced ones, and the declines. (The direct kernel is slow in the interpreter:
most cases use 16 output channels per group, where the implicit-GEMM kernel comes first.)"""

from __future__ import annotations

import pytest
import torch
from builtin_interp import in_dtype, interpreter, kernelbench, load, run_against_model

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

interpreter()

GEMM = {  # problem -> sizes (16 output channels per group: the implicit-GEMM kernel first)
    "54": {"batch_size": 1, "out_channels": 16, "depth": 5, "width": 6, "height": 7},
    "56": {"batch_size": 2, "in_channels": 3, "out_channels": 16, "height": 9, "width": 11},
    "64": {"batch_size": 2, "in_channels": 5, "out_channels": 16, "length": 13},
    "67": {"batch_size": 2, "in_channels": 5, "out_channels": 16, "length": 17},
    "72": {"batch_size": 1, "in_channels": 8, "out_channels": 64, "depth": 3, "height": 4, "width": 5},
    "74": {"batch_size": 2, "in_channels": 4, "out_channels": 16, "length": 13},
    "75": {"batch_size": 1, "in_channels": 8, "out_channels": 64, "height": 5, "width": 7},
    "76": {"batch_size": 2, "in_channels": 4, "out_channels": 16, "length": 33},
    "79": {"batch_size": 2, "in_channels": 4, "out_channels": 16, "length": 13},
    "80": {"batch_size": 1, "in_channels": 3, "out_channels": 16, "height": 9, "width": 29},
    "81": {"batch_size": 1, "in_channels": 4, "out_channels": 16, "height_in": 5, "width_in": 7},
    "87": {"batch_size": 2, "in_channels": 5, "out_channels": 16, "height": 9, "width": 11},
}
DEPTHWISE = {
    "82": {"batch_size": 2, "in_channels": 3, "height": 9, "width": 11},
    "84": {"batch_size": 1, "in_channels": 3, "out_channels": 3, "height_in": 9, "width_in": 11},
}


@pytest.mark.parametrize("problem", sorted(GEMM))
def test_implicit_gemm_convolutions(problem: str) -> None:
    task = kernelbench(problem, GEMM[problem])
    candidates = generate(task, "triton_cuda", 3)
    assert {c.params["kind"] for c in candidates} <= {"gemm", "taps"} and "gemm" in {c.params["kind"] for c in candidates}
    for candidate in candidates:
        run_against_model(task, candidate.code)


TAPS = {  # problem -> sizes with >= 16 input channels per group, or a strided transposed convolution
    "54": {"batch_size": 1, "in_channels": 16, "out_channels": 16, "depth": 4, "width": 5, "height": 3},
    "56": {"batch_size": 2, "in_channels": 20, "out_channels": 17, "height": 9, "width": 11},
    "65": {"batch_size": 1, "in_channels": 16, "out_channels": 18, "height": 5, "width": 6},
    "72": {"batch_size": 1, "in_channels": 8, "out_channels": 64, "depth": 3, "height": 4, "width": 5},
    "73": {"batch_size": 1, "in_channels": 8, "out_channels": 64, "depth": 3, "height": 4, "width": 5},
    "75": {"batch_size": 1, "in_channels": 8, "out_channels": 64, "height": 5, "width": 7},
    "76": {"batch_size": 2, "in_channels": 33, "out_channels": 16, "length": 40},
    "77": {"batch_size": 1, "in_channels": 4, "out_channels": 16, "depth": 3, "height": 4, "width": 5},
    "79": {"batch_size": 2, "in_channels": 4, "out_channels": 16, "length": 13},
    "81": {"batch_size": 1, "in_channels": 4, "out_channels": 16, "height_in": 5, "width_in": 7},
}


@pytest.mark.parametrize("problem", sorted(TAPS))
def test_taps_outside_gemm(problem: str) -> None:
    """The taps-outside GEMM comes first where it does less work, and is right: strided transposed
    convolutions with dilation (81: stride 5, dilation 2, so some output phases get no tap; 77:
    stride 2, dilation 2), groups, odd extents, a channel remainder (33 and 20 channels)."""
    task = kernelbench(problem, TAPS[problem])
    candidates = [c for c in generate(task, "triton_cuda", 4) if c.params["kind"] == "taps"]
    assert candidates and candidates[0].id.endswith("-0")
    for candidate in candidates:
        run_against_model(task, candidate.code)


@pytest.mark.parametrize("problem", sorted(DEPTHWISE))
def test_depthwise_gets_the_direct_kernel(problem: str) -> None:
    task = kernelbench(problem, DEPTHWISE[problem])
    candidate = generate(task, "triton_cuda", 1)[0]
    assert candidate.params["kind"] == "direct" and "def akg_conv_direct" in candidate.code
    run_against_model(task, candidate.code)


def test_strided_transposed_conv_with_few_channels_per_group_gets_taps_then_direct() -> None:
    """72 (stride 2, groups 4, 2 out channels per group here): the taps form first (its phases
    pay for the mostly empty 16-wide tile), the direct kernel still offered and right."""
    task = kernelbench("72", {"batch_size": 1, "in_channels": 8, "out_channels": 8, "depth": 2, "height": 3, "width": 4})
    candidates = generate(task, "triton_cuda", 7)
    kinds = [c.params["kind"] for c in candidates]
    assert kinds[0] == "taps" and "direct" in kinds
    for candidate in (candidates[0], candidates[kinds.index("direct")]):
        run_against_model(task, candidate.code)


def test_alexnet_first_layer_at_another_input_size() -> None:
    task = kernelbench("50", {"batch_size": 1})
    code = generate(task, "triton_cuda", 1)[0].code
    run_against_model(task, code, inputs=[torch.rand(2, 3, 27, 31)])


def test_fp16() -> None:
    for problem in ("56", "79"):
        task = in_dtype(kernelbench(problem, GEMM[problem]), torch.float16)
        run_against_model(task, generate(task, "triton_cuda", 1)[0].code, dtype=torch.float16, tol=1e-2)


def test_other_constructor_arguments() -> None:
    task = kernelbench("76", GEMM["76"])
    code = generate(task, "triton_cuda", 1)[0].code
    ref, new = load(task.source, "ref"), load(code, "cand")
    x = torch.rand(2, 4, 29)
    for args in ((4, 16, 5, 2, 1), (4, 32, 3, 1, 2), (4, 16, 2, 3, 1)):  # in, out, kernel, stride, dilation
        torch.manual_seed(0)
        model = ref.Model(*args)
        torch.manual_seed(0)
        candidate = new.ModelNew(*args)
        with torch.no_grad():
            assert torch.allclose(model(x), candidate(x), atol=1e-4, rtol=1e-4)


def test_guard_and_declines() -> None:
    task = kernelbench("67", GEMM["67"])
    model = load(generate(task, "triton_cuda", 1)[0].code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="generated for 1-D convolution"):
        model(torch.rand(2, 5, 4, 4))
    same = Task("same", task.source.replace("padding=padding", "padding='same'"))
    with pytest.raises(NotCovered, match="padding='same'"):
        generate(same, "triton_cuda", 1)
    reflect = Task("reflect", task.source.replace("bias=bias", "bias=bias, padding_mode='reflect'"))
    with pytest.raises(NotCovered, match="padding_mode='reflect'"):
        generate(reflect, "triton_cuda", 1)


# Tiles that Triton 3.6 miscompiles on an H200 with TF32 operands on problems 55 and 57 (every
# output tile off by up to 0.07 on "tf32" and "tf32x3" alike, exact with "ieee" products):
# benchmarks/results/kernelbench_h200/conv_tile_sweep.txt. (block_m, block_n, block_k, warps, stages)
MISCOMPILED_TF32_TILES = {(64, 64, 32, 4, 3), (64, 128, 32, 4, 3), (128, 128, 32, 8, 3), (64, 64, 32, 4, 2)}  # the last: problem 59


@pytest.mark.parametrize(("problem", "sizes"), [
    ("55", {"batch_size": 2, "in_channels": 5, "out_channels": 70, "height": 9, "width": 37}),
    ("57", {"batch_size": 1, "in_channels": 7, "out_channels": 67, "height": 11, "width": 13}),
])
def test_fp32_gemm_tiles_of_the_h200_mismatch_tasks(problem: str, sizes: dict[str, int]) -> None:
    """55 and 57 failed on an H200 with the 64x64x32/4/3 3xTF32 tile. The kernel's indexing is
    right at odd extents with several M and N tiles and a K remainder, for every offered tile
    (the interpreter computes the products exactly); and the miscompiled tile is no longer offered."""
    task = kernelbench(problem, sizes)
    candidates = generate(task, "triton_cuda", 3)
    offered = [(tuple(c.params["tile"]), c.params["precision"]) for c in candidates]
    assert len(offered) == 3 and {p for _, p in offered} == {"tf32x3", "ieee"}
    assert not [t for t, p in offered if p != "ieee" and t in MISCOMPILED_TF32_TILES], offered
    for candidate in candidates:
        run_against_model(task, candidate.code)
