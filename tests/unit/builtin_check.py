"""Shared by the built-in generator's family tests: run a generated candidate against the task's
Model the way the verifier does (modules left in training mode, inputs and weights cast to the
precision, outputs held to the verifier's own tolerances), on the task's inputs and on every
input set of its get_inputs_dyn_list() (other shapes of the same rank)."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.records import Candidate
from akg_agents.verify.compare import compare_tensor, tolerance_for

FAMILIES = Path(__file__).parents[1] / "fixtures" / "builtin_families"
TASK_FILES = sorted(FAMILIES.glob("*.py"))
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def module_of(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _cast(values: list[Any], dtype: torch.dtype) -> list[Any]:
    return [v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for v in values]


def input_sets(task: types.ModuleType) -> list[list[Any]]:
    torch.manual_seed(1)
    sets = [list(task.get_inputs())]
    return sets + [list(s) for s in getattr(task, "get_inputs_dyn_list", list)()]


def check_candidate(task: types.ModuleType, candidate: Candidate, precision: str = "fp32", all_shapes: bool = True) -> None:
    """Assert the candidate matches Model on every input set (the verifier's comparison)."""
    module = module_of(candidate.code, f"candidate_{candidate.id}")
    dtype = DTYPES[precision]
    init = list(task.get_init_inputs())
    torch.manual_seed(0)
    reference = task.Model(*init).to(dtype)
    torch.manual_seed(0)
    model_new = module.ModelNew(*init).to(dtype)
    sets = input_sets(task) if all_shapes else input_sets(task)[:1]
    for index, inputs in enumerate(sets):
        inputs = _cast(inputs, dtype)
        with torch.no_grad():
            expected = reference(*inputs)
            actual = model_new(*inputs)
        problem = compare_tensor(expected, actual, 0, 0, tolerance_for(expected.dtype))
        assert problem is None, f"input set {index} ({[tuple(t.shape) for t in inputs]}), {precision}: {problem}"
