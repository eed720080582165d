"""The tracing child traces on meta tensors (shapes only), and falls back to real data.

KernelBench's published sizes make the task's inputs gigabytes; the built-in generator needs only
their shapes and dtypes. These tests pin both halves of that: meta tracing gives the very same
candidates as real data, a task too large to materialise here still gets candidates (so meta is
really used), and a task that reads a value while tracing still gets its candidates from real data.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from akg_agents.builtin.generator import generate
from akg_agents.errors import TaskError
from akg_agents.records import Task
from akg_agents.tasks.isolated import generate_isolated
from akg_agents.tasks.loader import load_task

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = [
    FIXTURES / "kernelbench_style" / "02_softmax.py",
    FIXTURES / "kernelbench_style" / "04_batch_norm_2d.py",
    FIXTURES / "kernelbench_style" / "08_max_pooling_1d.py",
    FIXTURES / "builtin_families" / "norm_rms_dim1.py",
    FIXTURES / "builtin_families" / "scan_masked_cumsum.py",
    FIXTURES / "builtin_families" / "loss_cross_entropy.py",
]

HUGE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x):
        return torch.sigmoid(x) * x

def get_inputs():
    return [torch.randn(2 ** 20, 2 ** 20)]   # 4 TiB of fp32: only its shape can be made here

def get_init_inputs():
    return []
'''

READS_A_VALUE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()
        self.scale = float(torch.ones(1) * 2.5)   # a value read while the model is built

    def forward(self, x):
        return torch.relu(x) * self.scale

def get_inputs():
    return [torch.randn(8, 33)]

def get_init_inputs():
    return []
'''


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("dsl", ["cpp", "triton_cuda"])
def test_meta_tracing_gives_the_same_candidates(path: Path, dsl: str) -> None:
    task = load_task(path)
    real = generate(task, dsl, 2, threads=1)
    with torch.device("meta"):
        meta = generate(task, dsl, 2, threads=1)
    assert [(c.id, c.params, c.code) for c in meta] == [(c.id, c.params, c.code) for c in real]


def test_a_task_too_large_to_materialise_is_traced_on_meta_tensors() -> None:
    made = generate_isolated(Task(name="huge_swish", source=HUGE), "triton_cuda", 1)
    assert [c.dsl for c in made] == ["triton_cuda"]
    with pytest.raises(TaskError, match="tracing its Model failed"):  # real data cannot be made: without meta tracing there is nothing
        generate_isolated(Task(name="huge_swish", source=HUGE), "triton_cuda", 1, meta=False)


def test_a_task_that_reads_a_value_falls_back_to_real_data() -> None:
    task = Task(name="reads_a_value", source=READS_A_VALUE)
    with pytest.raises(Exception), torch.device("meta"):  # noqa: B017 - float() of a meta tensor: any error
        generate(task, "cpp", 1, threads=1)
    made = generate_isolated(task, "cpp", 1)
    assert [c.code for c in made] == [c.code for c in generate(task, "cpp", 1, threads=0)]


# Tasks whose meta tracing does not raise, yet gives different candidates than real data: the
# value read differs on meta tensors (data_ptr() is 0 for all, .device says meta), or real data
# is drawn from a random state the meta run left elsewhere (meta factories draw nothing).
TIED_BUFFERS = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("a", torch.ones(8))
        self.register_buffer("b", torch.ones(8))
        self.factor = 2.0 if self.a.data_ptr() == self.b.data_ptr() else 3.0   # tied weights?

    def forward(self, x):
        return torch.relu(x) * self.factor

def get_inputs():
    return [torch.randn(16, 64)]

def get_init_inputs():
    return []
'''

DEVICE_WORD = TIED_BUFFERS.replace(
    "self.factor = 2.0 if self.a.data_ptr() == self.b.data_ptr() else 3.0   # tied weights?",
    "self.factor = 2.0 if str(self.a.device) == 'cpu' else 3.0")

REAL_DRAW_AFTER_INIT = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 64)   # draws its weights from the RNG on real data only
        self.slope = float(torch.rand(1, device="cpu")) * 0.5   # real even under meta: a different draw

    def forward(self, x):
        return torch.nn.functional.leaky_relu(self.lin(x), self.slope)

def get_inputs():
    return [torch.randn(16, 64)]

def get_init_inputs():
    return []
'''


def _codes(made: list) -> list:
    return [(c.id, c.params, c.code) for c in made]


@pytest.mark.parametrize("source", [TIED_BUFFERS, DEVICE_WORD, REAL_DRAW_AFTER_INIT], ids=["data_ptr", "device", "real_draw"])
def test_a_task_whose_meta_answers_differ_falls_back_to_real_data(source: str) -> None:
    from akg_agents.tasks.isolated import _shapes_only

    task = Task(name="meta_differs", source=source)
    real = _codes(generate(task, "cpp", 1, threads=0))
    with torch.device("meta"):  # the premise: meta tracing does not raise, and gives other candidates
        assert _codes(generate(task, "cpp", 1, threads=0)) != real
    assert _shapes_only(lambda: generate(task, "cpp", 1, threads=0)) is None  # so it is not used
    assert _codes(generate_isolated(task, "cpp", 1)) == real


def test_the_watch_leaves_ordinary_tasks_on_meta_tensors() -> None:
    from akg_agents.tasks.isolated import _shapes_only

    for path in SAMPLES:
        task = load_task(path)

        def job(task: Task = task) -> list:
            return generate(task, "triton_cuda", 1, threads=1)

        assert _shapes_only(job) is not None, path.name


def test_the_tracing_child_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """A bench killed with SIGKILL must not leave its tracing child running (it is in its own
    session, so no signal reaches it)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    slow = HUGE.replace("return torch.sigmoid(x) * x", "import time; time.sleep(600); return x")
    task = Task(name="slow", source=slow)
    script = tmp_path / "parent.py"
    script.write_text(
        "import sys\n"
        "from akg_agents.records import Task\n"
        "from akg_agents.tasks.isolated import generate_isolated\n"
        f"generate_isolated(Task(name='slow', source={task.source!r}), 'cpp', 1)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)])
    child = 0
    for _ in range(600):  # find the child once it has started (it traces for 600 s)
        time.sleep(0.1)
        found = subprocess.run(["pgrep", "-P", str(parent.pid)], capture_output=True, text=True).stdout.split()
        if found:
            child = int(found[0])
            break
    assert child, "the tracing child never started"
    time.sleep(1.0)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        time.sleep(0.1)
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        status = subprocess.run(["ps", "-o", "stat=", "-p", str(child)], capture_output=True, text=True).stdout.strip()
        if status.startswith("Z"):
            return
    os.kill(child, signal.SIGKILL)
    raise AssertionError("the tracing child outlived its killed parent by 10 s")
