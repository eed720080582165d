"""Tasks whose forward takes Python numbers besides tensors (`forward(A, s: float)`: KernelBench's
matrix-scalar product). The generators lower tensors only, so the task is generated as if its
numbers were 0-d float32 tensors (what PyTorch does with them in an elementwise op), and each
candidate's forward turns the number it is called with into that 0-d tensor first."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from typing import Any

import torch

from akg_agents.records import Candidate, Task

WRAPPED_INPUTS = "get_inputs_with_numbers"


def number_positions(inputs: list[Any]) -> list[int] | None:
    """Positions of the int / float inputs among get_inputs()'s values; None when there are none,
    when an input is neither a tensor nor a number, or when no input is a tensor."""
    numbers = [i for i, v in enumerate(inputs) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if not numbers or any(not isinstance(v, torch.Tensor) for i, v in enumerate(inputs) if i not in numbers):
        return None
    if all(i in numbers for i in range(len(inputs))):
        return None  # no tensor to take a device from
    return numbers


def as_tensor_task(task: Task) -> Task:
    """The task with get_inputs() giving its numbers as 0-d float32 tensors."""
    source = task.source.replace("def get_inputs(", f"def {WRAPPED_INPUTS}(") + f"""

def get_inputs():
    return [torch.tensor(v, dtype=torch.float32) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
            for v in {WRAPPED_INPUTS}()]
"""
    return replace(task, source=source)


def convert_numbers(code: str, positions: list[int], dtype: str = "float32") -> str:
    """Inserts, at the top of ModelNew.forward, `s = torch.full((), float(s), ...)` for the
    arguments at `positions` (on the device of the first tensor argument)."""
    tree = ast.parse(code)
    model_new = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew")
    forward = next(n for n in model_new.body if isinstance(n, ast.FunctionDef) and n.name == "forward")
    names = [a.arg for a in forward.args.args[1:]]
    tensor = next(n for i, n in enumerate(names) if i not in positions)
    lines = [f"        {names[i]} = torch.full((), float({names[i]}), dtype=torch.{dtype}, device={tensor}.device)"
             for i in positions if i < len(names)]
    signature = re.search(r"\n    def forward\(self[^)]*\):\n", code)
    assert signature is not None
    return code[: signature.end()] + "\n".join(lines) + "\n" + code[signature.end():]


def number_input_candidates(candidates: list[Candidate], positions: list[int], dtype: str = "float32") -> list[Candidate]:
    """`dtype`: the numbers' tensors were traced in that dtype (the precision's; the generator
    casts every floating input to it), so the kernel is specialized for it."""
    return [replace(c, code=convert_numbers(c.code, positions, dtype), note=f"{c.note} (numbers passed as 0-d tensors)")
            for c in candidates]
