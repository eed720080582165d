"""The cpp loop-nest (PolyTOPS) lowering reads transposed operands: `A.T`, `B.mT`, `.t()`,
`.transpose(d0, d1)` (KernelBench 16-18, declined before as "operation getattr"), at odd sizes
with M != K so a swapped index cannot pass; triu / tril of a product (KernelBench 14, 15); and
two-operand einsums (KernelBench 11: "bijl,lk->bijk")."""

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
    def forward(self, A, B):
        return {expr}


def get_inputs():
    return [torch.rand({a}), torch.rand({b})]


def get_init_inputs():
    return []
'''
CASES = [
    ("torch.matmul(A.T, B)", "(37, 19)", "(37, 23)"),
    ("torch.matmul(A, B.T)", "(19, 37)", "(23, 37)"),
    ("torch.matmul(A.T, B.T)", "(37, 19)", "(23, 37)"),
    ("torch.relu(A.t() @ B) * 2.0", "(37, 19)", "(37, 23)"),
    ("torch.bmm(A, B.transpose(1, 2))", "(3, 19, 37)", "(3, 23, 37)"),
    ("A.mT @ B.transpose(-1, -2)", "(3, 37, 19)", "(3, 23, 37)"),
    ("torch.triu(torch.matmul(A, B))", "(19, 37)", "(37, 23)"),
    ("torch.tril(torch.matmul(A, B), diagonal=-2)", "(23, 37)", "(37, 19)"),
    ("torch.relu(torch.triu(A @ B, 3) - 0.5)", "(2, 19, 37)", "(2, 37, 23)"),
    ("torch.einsum('bijl,lk->bijk', A, B)", "(2, 3, 5, 7)", "(7, 4)"),
    ("torch.einsum('ik,jk->ij', A, B)", "(19, 37)", "(23, 37)"),
    ("torch.einsum('bij,bjk->bki', A, B)", "(2, 5, 7)", "(2, 7, 3)"),
]


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


@pytest.mark.parametrize(("expr", "a", "b"), CASES)
def test_transposed_operands(expr: str, a: str, b: str) -> None:
    task = Task("t", TASK.format(expr=expr, a=a, b=b))
    candidates = generate(task, "cpp", 4, threads=1)  # the GEMMs (cpp_gemm.py) where they cover it, then loop nests
    assert candidates and any(c.id.startswith("builtin-poly") for c in candidates)
    for candidate in candidates:
        check_candidate(module_of(task.source, task.name), candidate, all_shapes=False)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_T_of_more_than_two_dims_is_declined() -> None:
    task = Task("t", TASK.format(expr="torch.matmul(A, B.T)", a="(3, 2, 5)", b="(7, 5, 3)"))
    with pytest.raises(NotCovered, match="reverses every dim"):
        generate(task, "cpp", 1, threads=1)


def test_einsums_it_cannot_write_are_declined() -> None:
    task = Task("t", TASK.format(expr="torch.einsum('ii,ij->j', A, B)", a="(5, 5)", b="(5, 3)"))
    with pytest.raises(NotCovered, match="a letter repeated in one operand"):
        generate(task, "cpp", 1, threads=1)
