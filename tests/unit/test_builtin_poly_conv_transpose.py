"""The cpp loop-nest (PolyTOPS) lowering covers nn.ConvTranspose1d/2d/3d in scatter form (KernelBench
57, 58, 61, 64, 65, 68-71, 73, 74, 77-79, 81 were declined as 'module ConvTranspose*' on the CPU):
stride, padding, output_padding, dilation, groups, bias, at small odd sizes; and the strided
scatters the scheduler cannot take (72, 75) are declined with the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
from builtin_check import check_candidate, module_of

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

TASK = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super(Model, self).__init__()
        self.conv = nn.ConvTranspose{d}d({args})

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.rand({shape})]


def get_init_inputs():
    return []
'''
CASES = {
    "1d": (1, "5, 6, 3", "2, 5, 13"),
    "1d_dilated_strided_padded": (1, "4, 3, 3, stride=3, padding=2, dilation=2, bias=True", "2, 4, 11"),
    "2d_strided_output_padding_bias": (2, "3, 5, 3, stride=2, padding=1, output_padding=1, bias=True", "1, 3, 7, 9"),
    "2d_asymmetric_kernel": (2, "4, 3, (3, 5), padding=(1, 2)", "2, 4, 6, 9"),
    "2d_grouped": (2, "4, 6, 3, stride=2, padding=1, groups=2", "1, 4, 5, 7"),
    "3d": (3, "3, 2, 3, stride=(1, 2, 1)", "1, 3, 4, 5, 3"),
}


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


@pytest.mark.parametrize("case", sorted(CASES))
def test_transposed_convolutions(case: str) -> None:
    d, args, shape = CASES[case]
    task = Task(case, TASK.format(d=d, args=args, shape=shape))
    candidates = [c for c in generate(task, "cpp", 3, threads=1) if c.id.startswith("builtin-poly")]
    assert candidates
    for candidate in candidates:
        check_candidate(module_of(task.source, task.name), candidate, all_shapes=False)


def test_a_scatter_the_scheduler_cannot_take_is_declined_by_polytops() -> None:
    """PolyTOPS still refuses it; the task is covered by the gather-form C++ kernel (conv_cpp.py)."""
    from akg_agents.builtin.poly_cpp import poly_candidates

    task = Task("t", TASK.format(d=2, args="4, 4, (3, 5), stride=(2, 3), padding=(1, 2), dilation=(2, 1), groups=4",
                                 shape="1, 4, 5, 6"))
    with pytest.raises(NotCovered, match="PolyTOPS scheduler cannot take its strided scatter"):
        poly_candidates(task, 1, threads=1)
    assert [c.id for c in generate(task, "cpp", 1, threads=1)] == ["builtin-cpp-convt-0"]
