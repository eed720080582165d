"""Built-in Triton matmul + fused epilogue generator, checked on the CPU (no triton needed):
lowering classifies matrix products, the generated modules parse, pass the triton_cuda static
checks, carry the epilogue and differ between variants. Running them: tests/gpu."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.matmul_ir import Acc, MatmulProgram
from akg_agents.builtin.triton_codegen import triton_candidates
from akg_agents.builtin.triton_matmul import trace_matmul
from akg_agents.dsl import get_plugin
from akg_agents.records import Task
from akg_agents.tasks.scale import with_sizes
from akg_agents.verify.static import check_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tasks"


def _shrunk(file: str, sizes: dict[str, int]) -> str:
    """The GPU test's task (tests/fixtures/tasks) at sizes small enough to trace here."""
    return with_sizes(Task(file, (FIXTURES / file).read_text()), sizes).source


MATMUL_BIAS_RELU = _shrunk("matmul_bias_relu_fp16.py", {'M': 64, 'N': 48, 'K': 32})

LINEAR_GELU = _shrunk("linear_gelu_fp32.py", {'M': 64, 'N': 48, 'K': 32})

PLAIN_MATMUL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return a @ b


def get_inputs():
    return [torch.randn(64, 32), torch.randn(32, 48)]


def get_init_inputs():
    return []
"""

RESIDUAL = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(48, 32))

    def forward(self, x, residual):
        return torch.sigmoid(torch.nn.functional.linear(x, self.weight)) * 0.5 + residual


def get_inputs():
    return [torch.randn(64, 32), torch.randn(64, 48)]


def get_init_inputs():
    return []
"""

CONV = """
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        return torch.relu(self.conv(x))


def get_inputs():
    return [torch.randn(1, 3, 16, 16)]


def get_init_inputs():
    return []
"""

MATMUL_SOFTMAX = PLAIN_MATMUL.replace("return a @ b", "return torch.softmax(a @ b, dim=-1)")


def _task(name: str, source: str) -> Task:
    return Task(name=name, source=source)


def test_matmul_bias_relu_lowers() -> None:
    program = trace_matmul(_task("mm_bias_relu", MATMUL_BIAS_RELU))
    assert isinstance(program, MatmulProgram)
    assert (program.M, program.N, program.K, program.dtype, program.b_transposed) == (64, 48, 32, "float16", False)
    assert [s.name for s in program.inputs] == ["a", "b", "bias"]
    assert program.inputs[2].kind == "col"
    assert repr(program.epilogue).startswith("Unary(op='relu', a=Binary(op='add', a=Acc()")


def test_linear_gelu_lowers() -> None:
    program = trace_matmul(_task("linear_gelu", LINEAR_GELU))
    assert isinstance(program, MatmulProgram)
    assert program.b_transposed and program.dtype == "float32"
    assert [s.name for s in program.inputs] == ["x", "param:fc.weight", "param:fc.bias"]
    assert program.epilogue.op == "gelu"  # type: ignore[union-attr]


def test_plain_matmul_lowers_to_bare_accumulator() -> None:
    program = trace_matmul(_task("matmul", PLAIN_MATMUL))
    assert isinstance(program, MatmulProgram) and program.epilogue == Acc() and program.extras == []


def test_residual_and_functional_linear() -> None:
    program = trace_matmul(_task("residual", RESIDUAL))
    assert isinstance(program, MatmulProgram) and program.b_transposed
    kinds = {s.name: s.kind for s in program.inputs}
    assert kinds["residual"] == "full"


def test_conv_is_declined() -> None:
    assert trace_matmul(_task("conv", CONV)) is None  # not a matmul: the row path decides
    with pytest.raises(NotCovered, match="Conv2d"):
        triton_candidates(_task("conv", CONV), 2)


def test_reduction_after_matmul_is_declined() -> None:
    with pytest.raises(NotCovered, match="reduction"):
        triton_candidates(_task("mm_softmax", MATMUL_SOFTMAX), 2)


@pytest.mark.parametrize("name,source,needle", [
    ("mm_bias_relu", MATMUL_BIAS_RELU, "tl.where((acc + x2) < 0.0"),
    ("linear_gelu", LINEAR_GELU, "tl.erf((acc + x2)"),
    ("matmul", PLAIN_MATMUL, "tl.store(out + offs, (acc).to(tl.float32)"),
    ("residual", RESIDUAL, "tl.sigmoid(acc)"),
])
def test_candidates_are_valid_and_distinct(name: str, source: str, needle: str) -> None:
    candidates = triton_candidates(_task(name, source), 5)
    assert len(candidates) >= 3 and len({c.code for c in candidates}) == len(candidates)
    for candidate in candidates:
        ast.parse(candidate.code)
        assert candidate.dsl == "triton_cuda"
        assert check_source(candidate.code, get_plugin("triton_cuda"))[1] == []
        assert needle in candidate.code
        assert "tl.dot(a, b, acc" in candidate.code
        assert "_TaskModel(*args, **kwargs)" in candidate.code


def test_fp32_offers_3xtf32_and_exact_products() -> None:
    codes = [c.code for c in triton_candidates(_task("linear_gelu", LINEAR_GELU), 5)]
    assert 'input_precision="tf32x3"' in codes[0]
    assert any('input_precision="ieee"' in code for code in codes)
    half = triton_candidates(_task("mm_bias_relu", MATMUL_BIAS_RELU), 1)[0].code
    assert "input_precision" not in half and ".to(tl.float16)" in half
