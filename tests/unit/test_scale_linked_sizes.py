"""The CPU size scaler (tasks/scale.py) keeps sizes that must agree in step: tuple constants are
sizes too, a halving after which the task no longer runs is taken back and retried with equal
sizes halved together (KernelBench 100_HingeLoss: batch_size and input_shape[0] must stay equal)."""

from __future__ import annotations

import math

import pytest

from akg_agents.errors import TaskError
from akg_agents.records import Task
from akg_agents.tasks.scale import runs_on_meta, shrink, shrink_while, size_constants, with_sizes

HINGE = '''import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, predictions, targets):
        return torch.mean(torch.clamp(1 - predictions * targets, min=0))


batch_size = 4096
input_shape = (4096,)
dim = 1


def get_inputs():
    return [torch.rand(batch_size, *input_shape), torch.randint(0, 2, (batch_size,)).float() * 2 - 1]


def get_init_inputs():
    return []
'''


def elements(task: Task) -> float:
    return float(math.prod(v for v in size_constants(task.source).values() if v >= 16))


def test_tuple_elements_are_sizes_and_are_rewritten() -> None:
    source = "import torch\nshape = (\n    64,\n    3,\n)\nbatch = 32\nscale = 0.5\n"
    assert size_constants(source) == {"shape[0]": 64, "shape[1]": 3, "batch": 32}
    smaller = with_sizes(Task("t", source), {"shape[0]": 16})
    assert size_constants(smaller.source) == {"shape[0]": 16, "shape[1]": 3, "batch": 32}
    assert smaller.sizes == {"shape[0]": 16}
    assert "input_shape = (7,)" in with_sizes(Task("h", HINGE), {"input_shape[0]": 7}).source


def test_meta_check_tells_a_broken_halving() -> None:
    task = Task("hinge", HINGE)
    assert runs_on_meta(task.source) is True
    assert runs_on_meta(with_sizes(task, {"batch_size": 2048}).source) is False
    assert runs_on_meta(with_sizes(task, {"batch_size": 2048, "input_shape[0]": 2048}).source) is True
    assert runs_on_meta("this is not python") is None


def test_hinge_loss_shrinks_both_sizes_and_still_runs() -> None:
    shrunk, cost = shrink(Task("hinge", HINGE), elements, budget_ms=1e5)
    sizes = size_constants(shrunk.source)
    assert cost <= 1e5 and sizes["batch_size"] == sizes["input_shape[0]"] < 4096
    assert shrunk.sizes == {"batch_size": sizes["batch_size"], "input_shape[0]": sizes["batch_size"]}
    assert runs_on_meta(shrunk.source) is True


def test_a_callback_that_says_the_task_no_longer_runs_makes_the_scaler_back_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the meta check (a task it cannot tell about), the callback's TaskError is the signal."""
    monkeypatch.setattr("akg_agents.tasks.scale.runs_on_meta", lambda source: None)
    seen: list[dict[str, int]] = []

    def too_big(task: Task) -> bool:
        sizes = size_constants(task.source)
        seen.append(sizes)
        if sizes["batch_size"] != sizes["input_shape[0]"]:
            raise TaskError("shapes do not broadcast")
        return elements(task) > 1e5

    shrunk = shrink_while(Task("hinge", HINGE), too_big)
    sizes = size_constants(shrunk.source)
    assert sizes["batch_size"] == sizes["input_shape[0]"] == 256 and elements(shrunk) <= 1e5
    # Linked after the first failure: one failing try only, then the two move together.
    assert sum(s["batch_size"] != s["input_shape[0]"] for s in seen) == 1


def test_after_a_linked_pair_the_other_sizes_are_halved_too() -> None:
    source = HINGE.replace("dim = 1", "other = 1024")
    shrunk = shrink_while(Task("t", source), lambda t: size_constants(t.source)["other"] > 64)
    assert size_constants(shrunk.source)["other"] == 64


def test_a_task_that_does_not_run_as_given_still_raises() -> None:
    def broken(task: Task) -> bool:
        raise TaskError("the task raises")

    with pytest.raises(TaskError, match="the task raises"):
        shrink_while(Task("hinge", HINGE), broken)


def test_sizes_written_as_arithmetic_are_sizes() -> None:
    """12 level-1 files write `N = 2048 * 2`: before, such a task was never shrunk (1_Square ran at
    4096 on the CPU and timed out)."""
    source = "import torch\nN = 2048 * 2\nK = 131072 * 8  # 1048576\nM = 1 << 5\nscale = 2.0 * 3\nname = 'a' * 2\n"
    assert size_constants(source) == {"N": 4096, "K": 1048576, "M": 32}
    shrunk = shrink_while(Task("t", source), lambda t: elements(t) > 1e6)
    assert elements(shrunk) <= 1e6 and "K = 131072 * 8" not in shrunk.source  # the largest went first
    assert set(shrunk.sizes) <= {"N", "K", "M"} and "K" in shrunk.sizes
