from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.errors import TaskError
from akg_agents.records import Task
from akg_agents.tasks.loader import check_task_source, load_task, load_tasks
from akg_agents.tasks.scale import shrink, size_constants, with_sizes

EXAMPLES = Path(__file__).parents[2] / "examples" / "tasks"


def test_every_example_loads() -> None:
    tasks = load_tasks(EXAMPLES)
    assert {"relu", "bias_gelu", "softmax", "layernorm", "rmsnorm", "sum_reduce"} <= {t.name for t in tasks}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("class Model(:\n", "syntax error on line 1"),
        ("def get_inputs():\n    return []\n", "does not define Model, get_init_inputs"),
    ],
)
def test_malformed_files_get_one_line_errors(tmp_path: Path, source: str, expected: str) -> None:
    path = tmp_path / "bad.py"
    path.write_text(source)
    with pytest.raises(TaskError, match=expected):
        load_task(path)


def test_names_bound_any_way_are_not_reported_missing() -> None:
    """Issue 17: a task that binds Model under `if`/`try` or imports a function is not "missing" it;
    only a name bound nowhere is (and a star import leaves the verdict to running the file)."""
    check_task_source("import torch\nif True:\n    class Model(torch.nn.Module): pass\n"
                      "from helpers import get_inputs\ntry:\n    get_init_inputs = list\nexcept Exception:\n    pass\n", "t")
    check_task_source("from helpers import *\n", "t")
    with pytest.raises(TaskError, match="does not define get_inputs, get_init_inputs"):
        check_task_source("class Model: pass\n", "t")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="not found"):
        load_task(tmp_path / "nope.py")


def test_size_constants_and_rewrite() -> None:
    source = "import torch\nbatch_size = 64\ndim = 4096\nkernel = 3\nscale = 0.5\n"
    task = Task("t", source)
    assert size_constants(source) == {"batch_size": 64, "dim": 4096, "kernel": 3}
    smaller = with_sizes(task, {"dim": 1024})
    assert size_constants(smaller.source)["dim"] == 1024 and smaller.sizes == {"dim": 1024}


def test_shrink_halves_the_largest_size_until_the_budget_is_met() -> None:
    task = Task("t", "batch_size = 64\ndim = 4096\nkernel_size = 3\n")

    def cost(t: Task) -> float:  # a model of the reference's time: proportional to elements
        sizes = size_constants(t.source)
        return sizes["batch_size"] * sizes["dim"] / 65536

    shrunk, elapsed = shrink(task, cost, budget_ms=1.0)
    assert elapsed <= 1.0
    assert size_constants(shrunk.source)["kernel_size"] == 3  # small constants are not sizes
    assert shrunk.sizes  # what changed is recorded
