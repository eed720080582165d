"""Built-in scaled_dot_product_attention: the C++ kernels compiled and run here against the
task's Model (odd extents, L != S, E != Ev, causal, a constant scale, ranks 3-5, other shapes of
the same rank, fp16 / bf16), forward's inputs in any order or shared (self-attention), the
one-line guards, and the options declined with their reason (attn_mask, dropout, GQA, a scale
computed in forward). The Triton kernel runs in test_builtin_attention_triton.py."""

from __future__ import annotations

import pytest
import torch
from attention_tasks import CASES, attention_task, case_task
from builtin_check import check_candidate, module_of
from builtin_interp import kernelbench

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task


@pytest.mark.parametrize("case", sorted(CASES))
def test_cpp_attention_matches_on_every_shape(case: str) -> None:
    task = case_task(case)
    candidates = generate(task, "cpp", 3)
    assert [c.params["block"] for c in candidates] == [32, 16, 64]
    for candidate in candidates:
        check_candidate(module_of(task.source, "task"), candidate)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_cpp_attention_in_half_precision(precision: str) -> None:
    task = case_task("causal_l_gt_s")
    candidate = generate(task, "cpp", 1, precision=precision)[0]
    check_candidate(module_of(task.source, "task"), candidate, precision=precision)


def test_kernelbench_97_at_small_sizes() -> None:
    task = kernelbench("97", {"batch_size": 2, "num_heads": 3, "sequence_length": 19, "embedding_dimension": 33})
    candidate = generate(task, "cpp", 1)[0]
    module = module_of(task.source, "task")
    check_candidate(module, candidate)
    model = module_of(candidate.code, "candidate").ModelNew()
    q, k, v = torch.randn(1, 2, 40, 9), torch.randn(1, 2, 7, 9), torch.randn(1, 2, 7, 70)
    torch.testing.assert_close(model(q, k, v), torch.nn.functional.scaled_dot_product_attention(q, k, v))


def test_inputs_in_another_order_and_self_attention() -> None:
    reordered = attention_task("reordered", [(2, 11, 6), (2, 9, 6), (2, 11, 5)], [], args="self, k, q, v", call="q, k, v")
    check_candidate(module_of(reordered.source, "task"), generate(reordered, "cpp", 1)[0])
    shared = attention_task("self_attention", [(2, 13, 7)], [[(1, 30, 3)]], args="self, x", call="x, x, x")
    check_candidate(module_of(shared.source, "task"), generate(shared, "cpp", 1)[0])


def test_no_key_gives_zeros_as_pytorch() -> None:
    model = module_of(generate(case_task("plain"), "cpp", 1)[0].code, "candidate").ModelNew()
    q, k, v = torch.randn(1, 1, 3, 4), torch.randn(1, 1, 0, 4), torch.randn(1, 1, 0, 5)
    assert torch.equal(model(q, k, v), torch.zeros(1, 1, 3, 5))


def test_guards_name_the_specialization() -> None:
    model = module_of(generate(case_task("plain"), "cpp", 1)[0].code, "candidate").ModelNew()
    with pytest.raises(ValueError, match="generated for scaled_dot_product_attention of rank-4"):
        model(torch.randn(3, 5, 4), torch.randn(3, 5, 4), torch.randn(3, 5, 4))
    with pytest.raises(ValueError, match="equal leading dims"):  # PyTorch would broadcast K's batch dim
        model(torch.randn(2, 3, 5, 4), torch.randn(1, 3, 5, 4), torch.randn(1, 3, 5, 4))
    with pytest.raises(ValueError, match="float32 or float16 or bfloat16"):
        model(*(torch.randn(1, 1, 5, 4, dtype=torch.float64),) * 3)


@pytest.mark.parametrize(("options", "reason"), [
    (", attn_mask=torch.ones(5, 5, dtype=torch.bool)", "attn_mask"),
    (", dropout_p=0.1", "dropout_p > 0"),
    (", enable_gqa=True", "enable_gqa=True"),
    (", scale=1.0 / q.shape[-1]", "scale computed in forward"),
])
def test_declined_options_say_why(options: str, reason: str) -> None:
    task = attention_task("declined", [(1, 2, 5, 4)] * 3, [], options)
    for dsl in ("cpp", "triton_cuda"):
        with pytest.raises(NotCovered, match=reason):
            generate(task, dsl, 1)


def test_declined_shapes_say_why() -> None:
    broadcast = attention_task("broadcast", [(2, 2, 5, 4), (1, 2, 5, 4), (1, 2, 5, 4)], [])
    with pytest.raises(NotCovered, match="equal batch dims"):
        generate(broadcast, "cpp", 1)
    double = attention_task("float64", [(1, 2, 5, 4)] * 3, []).source.replace("torch.randn(1, 2, 5, 4)", "torch.randn(1, 2, 5, 4, dtype=torch.float64)")
    with pytest.raises(NotCovered, match="float64"):
        generate(Task("float64", double), "cpp", 1)
    extra = attention_task("extra", [(1, 2, 5, 4)] * 3, [], call="q, k, v).relu(")
    with pytest.raises(NotCovered, match="other operations in forward"):
        generate(extra, "triton_cuda", 1)
