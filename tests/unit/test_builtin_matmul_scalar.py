"""KernelBench 5 (matrix-scalar, `forward(A, s: float)`): generated with the number as a 0-d
tensor, each candidate's forward converts the number it is given. Run for real on the CPU (cpp)
and under Triton's interpreter, at the traced shape and at another shape with an int scalar."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from builtin_interp import interpreter, kernelbench, run_against_model

from akg_agents.builtin.generator import generate
from akg_agents.builtin.layer_task import task_inputs
from akg_agents.builtin.number_inputs import number_positions


def _check(dsl: str) -> None:
    task = kernelbench("5", {"M": 33, "N": 17})
    assert number_positions(task_inputs(task)[1]) == [1]
    candidates = generate(task, dsl, 2)
    assert candidates and all("s = torch.full((), float(s)" in c.code for c in candidates)
    for candidate in candidates:
        run_against_model(task, candidate.code)
        run_against_model(task, candidate.code, inputs=[torch.rand(5, 9), 2])


def test_cpp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(tmp_path))
    _check("cpp")


def test_triton_interpreter() -> None:
    interpreter()
    _check("triton_cuda")
