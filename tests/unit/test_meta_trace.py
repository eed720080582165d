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
