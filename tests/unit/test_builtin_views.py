"""An input used through an unsqueeze broadcasts as its view (KernelBench 12: `A.unsqueeze(1) * B`).

Aligned by its own trailing dims, A (N,) would scale B's columns rather than its rows: declined
when N != M, and silently wrong when N == M (the H200 bench caught it as a mismatch).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from builtin_check import check_candidate, module_of

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

ROW_SCALE = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, A, B):
        return A.unsqueeze(1) * B

M = {m}
N = {n}

def get_inputs():
    return [torch.rand(N), torch.rand(N, M)]

def get_init_inputs():
    return []
'''

BOTH_VIEWS = '''
import torch
import torch.nn as nn

class Model(nn.Module):
    def forward(self, a, b):
        return a.unsqueeze(1) * b + a

def get_inputs():
    return [torch.rand(32), torch.rand(32, 32)]

def get_init_inputs():
    return []
'''


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


@pytest.mark.parametrize(("n", "m"), [(48, 48), (37, 70)])
def test_row_scaling_through_unsqueeze(n: int, m: int) -> None:
    task = Task(name="row_scale", source=ROW_SCALE.format(n=n, m=m))
    candidate = generate(task, "cpp", 1, threads=1)[0]
    check_candidate(module_of(task.source, task.name), candidate, all_shapes=False)


def test_an_input_used_as_itself_and_through_a_view_is_declined() -> None:
    with pytest.raises(NotCovered, match="both as it is and through a view that broadcasts differently"):
        generate(Task(name="both_views", source=BOTH_VIEWS), "cpp", 1, threads=1)
