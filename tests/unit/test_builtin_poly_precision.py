"""Loop-nest (PolyTOPS) candidates in fp16 and bf16, KernelBench's precision option: ModelNew
widens the tensors to float32, the nest computes and accumulates in float32, and the result is
narrowed back; a kernel made for one dtype refuses another in one line. Compiled and run here."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_interp import kernelbench, load, run_against_model

from akg_agents.builtin.generator import generate

CASES = {  # problem -> sizes (odd extents)
    "1": {"N": 33},
    "18": {"M": 17, "K": 19, "N": 23},
    "63": {"batch_size": 1, "in_channels": 3, "out_channels": 4, "width": 12, "height": 11},
}
PRECISIONS = {torch.float16: "fp16", torch.bfloat16: "bf16"}


@pytest.fixture(autouse=True)
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


@pytest.mark.parametrize("dtype", sorted(PRECISIONS, key=str))
@pytest.mark.parametrize("problem", sorted(CASES))
def test_loop_nests_in_half_precisions(problem: str, dtype: torch.dtype) -> None:
    task = kernelbench(problem, CASES[problem])
    made = generate(task, "cpp", 4, precision=PRECISIONS[dtype])  # a product's GEMMs come first (cpp_gemm.py)
    candidate = next(c for c in made if c.id.startswith("builtin-poly"))
    assert candidate.id.startswith("builtin-poly") and ".float().contiguous()" in candidate.code
    run_against_model(task, candidate.code, dtype=dtype, tol=1e-2 if dtype == torch.float16 else 2e-2)


def test_a_half_kernel_refuses_float32() -> None:
    task = kernelbench("1", CASES["1"])
    code = generate(task, "cpp", 1, precision="fp16")[0].code
    model = load(code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="generated for float16 tensors"):
        model(torch.rand(33, 33), torch.rand(33, 33))
