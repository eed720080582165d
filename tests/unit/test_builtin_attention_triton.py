"""The built-in Triton flash-attention kernel under Triton's CPU interpreter, against the task's
Model: every variant (flash, and probabilities then P @ V) on odd extents (several query tiles, a key remainder, E walked in
chunks or held whole, Ev split across programs), causal with L > S and L < S, a constant scale,
ranks 2 to 5, fp16 (bf16 runs on the GPU only), and the dtype guard. Skipped where triton is not installed."""

from __future__ import annotations

import pytest
import torch
from attention_tasks import CASES, attention_task, case_task
from builtin_check import check_candidate, module_of
from builtin_interp import interpreter, kernelbench

from akg_agents.builtin.generator import generate

interpreter()


def test_every_variant_on_kernelbench_97_at_small_sizes() -> None:
    """E = 80 > BLOCK_D: the head dim in chunks; Ev = 80 > BLOCK_DV: Ev split across programs."""
    task = kernelbench("97", {"batch_size": 1, "num_heads": 2, "sequence_length": 67, "embedding_dimension": 80})
    candidates = generate(task, "triton_cuda", 8)
    assert [(c.params["kind"], c.params["precision"]) for c in candidates] == [
        *[("flash", "tf32x3")] * 3, ("two_pass", "tf32x3"), *[("flash", "ieee")] * 3, ("two_pass", "ieee")]
    module = module_of(task.source, "task")
    for candidate in candidates:
        assert "def akg_attention" in candidate.code
        check_candidate(module, candidate)


@pytest.mark.parametrize("case", ["causal_l_gt_s", "rank2_causal", "scaled_rank3"])
def test_two_kernel_form(case: str) -> None:
    """Probabilities to a scratch, then P @ V: causal rows whose keys end inside a tile, L < S
    and L > S, a tile of keys never written (causal) read as probability 0."""
    task = case_task(case)
    candidate = generate(task, "triton_cuda", 4)[3]
    assert candidate.params["kind"] == "two_pass" and "def akg_attention_pv" in candidate.code
    check_candidate(module_of(task.source, "task"), candidate)


def test_wide_values_put_the_two_kernel_form_first() -> None:
    """Ev > 256: a flash program per Ev slice would recompute Q K^T once per slice; a flash kernel
    second, so that two candidates race two different kernels."""
    task = attention_task("wide", [(1, 2, 19, 8), (1, 2, 23, 8), (1, 2, 23, 300)], [[(1, 1, 70, 3), (1, 1, 9, 3), (1, 1, 9, 257)]])
    candidates = generate(task, "triton_cuda", 3)
    assert [c.params["kind"] for c in candidates] == ["two_pass", "flash", "two_pass"]
    for candidate in candidates:
        check_candidate(module_of(task.source, "task"), candidate)


@pytest.mark.parametrize("case", sorted(CASES))
def test_first_candidate_on_every_shape(case: str) -> None:
    task = case_task(case)
    check_candidate(module_of(task.source, "task"), generate(task, "triton_cuda", 1)[0])


# fp16 only: Triton 3.6's interpreter computes tl.dot on bf16 operands wrongly (see
# test_builtin_matmul_family.py); tests/gpu/test_gpu_builtin_attention_chain.py runs bf16 compiled.
def test_fp16() -> None:
    task = case_task("causal_l_gt_s")
    candidate = generate(task, "triton_cuda", 1, precision="fp16")[0]
    assert candidate.params["precision"] == "tf32"  # ignored by tl.dot for 16-bit operands
    check_candidate(module_of(task.source, "task"), candidate, precision="fp16")


def test_dtype_guard() -> None:
    model = module_of(generate(case_task("plain"), "triton_cuda", 1)[0].code, "candidate").ModelNew()
    with pytest.raises(ValueError, match="rank-4 float32 Q"):
        model(*(torch.randn(1, 1, 5, 4, dtype=torch.float16),) * 3)
