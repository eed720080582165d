from __future__ import annotations

from pathlib import Path

import pytest
import torch

from akg_agents.builtin.cpp_codegen import CppParams, generate_cpp
from akg_agents.builtin.generator import generate, trace_program
from akg_agents.builtin.lower import NotCovered, lower_model
from akg_agents.tasks.loader import load_task

EXAMPLES = Path(__file__).parents[2] / "examples" / "tasks"


@pytest.mark.parametrize(
    ("name", "reductions"),
    [("relu", 0), ("bias_gelu", 0), ("softmax", 2), ("layernorm", 2), ("rmsnorm", 1), ("sum_reduce", 1)],
)
def test_examples_lower_to_row_programs(name: str, reductions: int) -> None:
    program = trace_program(load_task(EXAMPLES / f"{name}.py"))
    assert len(program.reductions) == reductions


def test_softmax_stores_exp_once() -> None:
    program = trace_program(load_task(EXAMPLES / "softmax.py"))
    code = generate_cpp(program, CppParams(threads=2))
    assert code.count("akg_exp((in0") == 1  # computed in the sum pass and stored, not recomputed
    assert "num_threads(2)" in code and "#pragma omp simd" in code


def test_parameters_are_taken_from_the_embedded_model() -> None:
    candidate = generate(load_task(EXAMPLES / "layernorm.py"), "cpp", 1)[0]
    assert "class Model(" in candidate.code and "\n_TaskModel = Model\n" in candidate.code
    assert "reference = _TaskModel(*args, **kwargs)" in candidate.code and "_tensor_of(reference" in candidate.code


def test_variants_differ_in_their_parameters() -> None:
    candidates = generate(load_task(EXAMPLES / "relu.py"), "cpp", 4)
    assert len({c.digest for c in candidates}) == 4
    assert len({tuple(sorted(c.params.items())) for c in candidates}) == 4


class MatMul(torch.nn.Module):
    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a @ b


class SumTwoWays(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=0, keepdim=True) * x.sum(dim=1, keepdim=True)


@pytest.mark.parametrize(
    ("model", "inputs", "reason"),
    [
        (MatMul(), [torch.randn(4, 8), torch.randn(8, 4)], "matmul"),
        (SumTwoWays(), [torch.randn(4, 8)], "different dims"),
        (torch.nn.Conv2d(3, 4, 3), [torch.randn(1, 3, 8, 8)], "(?i)conv2d"),
    ],
)
def test_out_of_scope_models_are_declined_plainly(model: torch.nn.Module, inputs: list[torch.Tensor], reason: str) -> None:
    with pytest.raises(NotCovered, match=reason):
        lower_model(model, inputs)
