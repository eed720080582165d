"""`x.float()` in a task traced at fp16 / bf16 (KernelBench's precision option) is a cast to
float32, not a no-op: the row and matmul generators wrote kernels returning the half dtype where
the Model returns float32 (every such candidate then failed the verifier's dtype check). They
decline it now; in a float32 task `.float()` stays a no-op and the kernel stays right."""

from __future__ import annotations

from pathlib import Path

import pytest
from builtin_interp import run_against_model

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

HEADER = "import torch\nimport torch.nn as nn\n\n\nclass Model(nn.Module):\n    def forward(self, "
TASKS = {
    "pointwise": HEADER + "a):\n        return torch.tanh(a).float() * 2.0\n\n\ndef get_inputs():\n    return [torch.rand(33, 17)]\n",
    "reduction": HEADER + "a):\n        return torch.sum(a.float(), dim=1)\n\n\ndef get_inputs():\n    return [torch.rand(33, 17)]\n",
    "matmul": HEADER + "a, b):\n        return torch.matmul(a, b).float()\n\n\ndef get_inputs():\n"
                       "    return [torch.rand(8, 16), torch.rand(16, 12)]\n",
}
INIT = "\n\ndef get_init_inputs():\n    return []\n"


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("kind", sorted(TASKS))
@pytest.mark.parametrize("dsl", ["cpp", "triton_cuda"])
def test_a_widening_cast_of_a_half_tensor_is_declined(dsl: str, kind: str, precision: str) -> None:
    task = Task(kind, TASKS[kind] + INIT)
    with pytest.raises(NotCovered, match="operation float"):
        generate(task, dsl, 2, threads=1, precision=precision)


@pytest.mark.parametrize("kind", sorted(TASKS))
def test_float_of_a_float32_tensor_is_still_a_no_op(kind: str) -> None:
    task = Task(kind, TASKS[kind] + INIT)
    candidates = generate(task, "cpp", 1, threads=1)
    assert candidates
    run_against_model(task, candidates[0].code, tol=1e-5)
