"""KernelBench 12's `A.unsqueeze(1) * B` through the built-in Triton generator, in the interpreter."""

from __future__ import annotations

import pytest
from builtin_interp import interpreter, run_against_model
from test_builtin_views import ROW_SCALE

from akg_agents.builtin.triton_codegen import triton_candidates
from akg_agents.records import Task

interpreter()


@pytest.mark.parametrize(("n", "m"), [(48, 48), (37, 70)])
def test_row_scaling_through_unsqueeze(n: int, m: int) -> None:
    task = Task(name="row_scale", source=ROW_SCALE.format(n=n, m=m))
    for candidate in triton_candidates(task, 2):
        run_against_model(task, candidate.code)
