"""A row-program candidate's wrapper takes inputs as they come: contiguous ones are passed to the
kernel as they are (no view ops: rowwrap.py's fast paths), anything else is laid out first. Either
way the result is right, the inputs are left unchanged and the output is a new tensor."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_check import module_of

from akg_agents.builtin.generator import generate
from akg_agents.records import Task

SCALE_SHIFT = """
import torch
import torch.nn as nn

class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return torch.relu(x * y + 1.0)

def get_inputs():
    return [torch.randn(64, 96), torch.randn(96)]

def get_init_inputs():
    return []
"""


@pytest.fixture(autouse=True)
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


def _layouts() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(1)
    x, y = torch.randn(64, 96), torch.randn(96)
    return {
        "contiguous": (x, y),
        "transposed view": (torch.randn(96, 64).t(), y),  # same shape, not contiguous
        "stride-0 rows": (torch.randn(1, 96).expand(64, 96), y),  # broadcast already materialized as a view
        "offset view": (torch.randn(70, 96)[3:67], y),  # contiguous, not at the start of its storage
        "y broadcast over x's rows as (1, 96)": (x, torch.randn(1, 96)),
    }


@pytest.mark.parametrize("layout", sorted(_layouts()))
def test_inputs_in_any_layout(layout: str) -> None:
    task = Task("scale_shift", SCALE_SHIFT)
    ref = module_of(task.source, "ref").Model()
    x, y = _layouts()[layout]
    before = (x.clone(), y.clone())
    expected = ref(x, y)
    for candidate in generate(task, "cpp", 2):
        got = module_of(candidate.code, "cand").ModelNew()(x, y)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
        assert torch.equal(x, before[0]) and torch.equal(y, before[1]), f"{candidate.id} changed an input"
        storages = {t.untyped_storage().data_ptr() for t in (x, y)}
        assert got.untyped_storage().data_ptr() not in storages, f"{candidate.id} returned an input's memory"


def test_an_input_fuller_than_traced_is_refused_in_one_line() -> None:
    """y was traced as a (96,) row broadcast over x; a y of x's full shape (even a stride-0 one) is
    another kernel's job: refused, not computed with the wrong rows."""
    task = Task("scale_shift", SCALE_SHIFT)
    candidate = generate(task, "cpp", 1)[0]
    with pytest.raises(ValueError, match="broadcast as") as refused:
        module_of(candidate.code, "cand").ModelNew()(torch.randn(64, 96), torch.randn(96).expand(64, 96))
    assert "\n" not in str(refused.value)
