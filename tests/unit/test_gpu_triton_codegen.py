"""Built-in Triton generator, checked on the CPU: it covers the example tasks and its code
passes the triton_cuda static checks (running it needs a GPU: tests/gpu)."""

from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.builtin.generator import trace_program
from akg_agents.builtin.triton_codegen import TritonParams, resolve, triton_candidates
from akg_agents.dsl import get_plugin
from akg_agents.records import Task
from akg_agents.verify.static import check_source

TASKS = Path(__file__).parents[2] / "examples" / "tasks"


@pytest.mark.parametrize("name", sorted(p.stem for p in TASKS.glob("*.py")))
def test_candidates_pass_static_checks(name: str) -> None:
    task = Task(name=name, source=(TASKS / f"{name}.py").read_text())
    candidates = triton_candidates(task, 4)
    assert candidates and len({c.code for c in candidates}) == len(candidates)  # distinct kernels
    for candidate in candidates:
        assert candidate.dsl == "triton_cuda"
        assert check_source(candidate.code, get_plugin("triton_cuda"))[1] == []


def test_wide_rows_are_walked_in_chunks() -> None:
    task = Task(name="softmax", source=(TASKS / "softmax.py").read_text().replace("dim = 4096", "dim = 65536"))
    program = trace_program(task)
    assert resolve(program, TritonParams()).block == 4096
    code = triton_candidates(task, 1)[0].code
    assert "tl.range(0, cols, BLOCK" in code
