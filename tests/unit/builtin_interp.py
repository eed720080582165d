"""Shared by the built-in Triton family tests (matmul, conv, pool): run a generated candidate
under Triton's CPU interpreter and compare it with the task's Model.

TRITON_INTERPRET must be set before triton is first imported; the tests call `interpreter()`
at module level, which sets it and skips the module where triton is missing.
"""

from __future__ import annotations

import os
import types
from pathlib import Path
from typing import Any

import pytest
import torch

from akg_agents.records import Task
from akg_agents.tasks.scale import with_sizes

# KernelBench beside the checkout (../shared/kernelbench), or where AKG_KERNELBENCH points (a KernelBench
# folder holding level1/: on a GPU machine the checkout is copied without ../shared).
KERNELBENCH = Path(os.environ.get("AKG_KERNELBENCH") or Path(__file__).resolve().parents[3] / "shared" / "kernelbench" / "KernelBench") / "level1"


def interpreter() -> Any:
    os.environ["TRITON_INTERPRET"] = "1"
    triton = pytest.importorskip("triton")
    _index_fix()
    return triton


def _index_fix() -> None:
    """Triton 3.6's interpreter turns a scalar into a Python int with `int(array)`, which numpy
    >= 2.4 refuses for its 1-element arrays: every `range(0, K)` over a runtime K fails. Patch
    the interpreter's tensor patcher to take the element instead (no effect on compiled runs)."""
    from triton.runtime import interpreter as interp

    original = interp._patch_lang_tensor
    if getattr(original, "_akg_index_fix", False):
        return

    def patched(tensor: Any, scope: Any) -> None:
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    patched._akg_index_fix = True  # type: ignore[attr-defined]
    interp._patch_lang_tensor = patched


def kernelbench(prefix: str, sizes: dict[str, int]) -> Task:
    """A KernelBench level-1 file (by its number prefix) at the given sizes; skips without it."""
    found = sorted(KERNELBENCH.glob(f"{prefix}_*.py")) if KERNELBENCH.is_dir() else []
    if not found:
        pytest.skip(f"KernelBench level 1 problem {prefix} is not at {KERNELBENCH}")
    task = Task(found[0].stem, found[0].read_text())
    return with_sizes(task, sizes) if sizes else task


def load(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def run_against_model(task: Task, code: str, inputs: list[Any] | None = None, dtype: torch.dtype | None = None,
                      tol: float = 1e-4) -> float:
    """Builds Model and ModelNew with the task's init inputs under one seed, runs both on the
    task's inputs (or `inputs`), asserts the outputs match and returns the largest error."""
    ref_module = load(task.source, "ref")
    new_module = load(code, "cand")
    init = ref_module.get_init_inputs()
    torch.manual_seed(0)
    model = ref_module.Model(*init)
    torch.manual_seed(0)
    new = new_module.ModelNew(*init)
    if dtype is not None:
        model, new = model.to(dtype), new.to(dtype)
    torch.manual_seed(1)
    args = inputs if inputs is not None else ref_module.get_inputs()
    if dtype is not None:
        args = [a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args]
    with torch.no_grad():
        want = model(*args)
        got = new(*args)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape, got.dtype, want.dtype)
    want32, got32 = want.float(), got.float()
    scale = max(float(want32.pow(2).mean().sqrt()), 1e-6)
    err = float((got32 - want32).abs().max()) if want.numel() else 0.0
    assert err <= tol * scale + tol * float(want32.abs().max()), f"max error {err} (RMS {scale})"
    return err


def in_dtype(task: Task, dtype: torch.dtype) -> Task:
    """The task with its floating-point inputs cast to `dtype` (KernelBench's precision option)."""
    name = str(dtype).removeprefix("torch.")
    source = task.source.replace("def get_inputs(", "def get_inputs_fp32(") + f"""

def get_inputs():
    return [t.to(torch.{name}) if isinstance(t, torch.Tensor) and t.is_floating_point() else t for t in get_inputs_fp32()]
"""
    return Task(f"{task.name}_{name}", source)
