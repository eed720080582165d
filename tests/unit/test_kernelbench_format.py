"""Tasks written the way KernelBench writes them (tests/fixtures/kernelbench_style) load, run, and
go through the built-in cpp generator: a covered task's candidate imports, constructs from
get_init_inputs() and matches Model; the rest are declined with NotCovered."""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import pytest
import torch

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task
from akg_agents.tasks.loader import load_task, load_tasks

SUITE = Path(__file__).parents[1] / "fixtures" / "kernelbench_style"
FILES = sorted(SUITE.glob("*.py"))
# What the built-in cpp generator covers today; the others must be declined plainly (if one
# becomes covered, test_builtin_cpp_candidates still checks its candidate against Model).
COVERED = {"01_relu", "02_softmax", "04_batch_norm_2d", "05_rms_norm", "06_sum_reduction_over_a_dimension",
           "07_mse_loss", "10_layer_norm"}


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _task(name: str, source: str) -> Task:
    return Task(name=name, source=source, path=f"<{name}>")


def _check_candidate_matches_model(task: Task, count: int = 1) -> list[types.ModuleType]:
    """Generate, import each candidate, build ModelNew(*get_init_inputs()) and compare with Model."""
    reference = _module(task.source, f"task_{task.name}")
    candidates = generate(task, "cpp", count)
    assert candidates, "generate returned no candidates"
    modules = []
    for candidate in candidates:
        assert candidate.dsl == "cpp"
        module = _module(candidate.code, f"candidate_{task.name}_{candidate.id}")
        assert module.ModelNew is not module.Model and not issubclass(module.ModelNew, module.Model)
        assert module._TaskModel is module.Model
        init = list(reference.get_init_inputs())
        torch.manual_seed(0)
        model = reference.Model(*init)
        torch.manual_seed(0)
        model_new = module.ModelNew(*init)
        torch.manual_seed(1)
        inputs = list(reference.get_inputs())
        with torch.no_grad():
            expected = model(*inputs)
            actual = model_new(*inputs)
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)
        modules.append(module)
    return modules


def _outputs(value: Any) -> list[torch.Tensor]:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def test_the_suite_is_there() -> None:
    assert 8 <= len(FILES) <= 12
    assert [t.name for t in load_tasks(SUITE)] == [f.stem for f in FILES]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_file_loads_and_runs(path: Path) -> None:
    task = load_task(path)
    assert task.name == path.stem and "super(Model, self).__init__()" in task.source
    module = _module(task.source, f"task_{task.name}")
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs())
    with torch.no_grad():
        outputs = _outputs(model(*module.get_inputs()))
    assert outputs and all(isinstance(t, torch.Tensor) and torch.isfinite(t).all() for t in outputs)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_builtin_cpp_candidates(path: Path) -> None:
    task = load_task(path)
    try:
        _check_candidate_matches_model(task, count=2)
    except NotCovered as exc:
        assert task.name not in COVERED, f"{task.name} is no longer covered: {exc}"
        reason = str(exc)
        assert reason and "\n" not in reason and " at 0x" not in reason  # plain, one line
        return
    # covered (newly covered ones included): each candidate was just checked against Model


def test_two_output_task_is_declined_as_such() -> None:
    with pytest.raises(NotCovered, match="several tensors"):
        generate(load_task(SUITE / "09_min_and_max_over_a_dimension.py"), "cpp", 1)


# ---- Regression: the candidate used to embed Model renamed to _TaskModel, so the task's own
# `super(Model, self).__init__()` raised NameError inside the candidate.

SUPER_WITH_ARGS = '''import torch
import torch.nn as nn

class Model(nn.Module):
    """
    Scales the input by a learned per-feature weight, adds a bias, then applies tanh.
    """
    def __init__(self, features: int, scale: float):
        super(Model, self).__init__()
        self.scale = scale
        self.weight = nn.Parameter(torch.randn(features))
        self.bias = nn.Parameter(torch.randn(features) * 0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x * self.weight * self.scale + self.bias)

batch_size = 16
features = 128
scale = 0.5

def get_inputs():
    return [torch.randn(batch_size, features)]

def get_init_inputs():
    return [features, scale]
'''


def test_super_model_self_with_init_arguments_constructs() -> None:
    (module,) = _check_candidate_matches_model(_task("super_args", SUPER_WITH_ARGS))
    torch.manual_seed(0)
    model_new = module.ModelNew(128, 0.5)
    torch.manual_seed(0)
    reference = module.Model(128, 0.5)
    assert type(reference).__name__ == "Model" and reference.scale == 0.5
    new_params = list(model_new.parameters())
    assert len(new_params) == 2  # weight and bias, taken from the embedded Model
    for param in reference.parameters():
        assert any(torch.equal(param, p) for p in new_params)


def test_model_bound_by_assignment_and_future_import() -> None:
    source = SUPER_WITH_ARGS.replace("class Model(", "class _Impl(").replace("super(Model, self)", "super(_Impl, self)")
    source = "from __future__ import annotations\n" + source + "\nModel = _Impl\n"
    (module,) = _check_candidate_matches_model(_task("assigned_model", source))
    assert module.Model is module._Impl
