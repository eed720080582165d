"""The built-in Triton matmul family, convolutions and pooling on a real GPU, through the
verifier: every candidate the generator emits (AKG_FAMILY_COUNT, default 2) for KernelBench
level-1 problems must compile and pass; per candidate it prints status, candidate / eager
medians and the speedup, and with AKG_FAMILY_JSON set writes them there as JSON.

Sizes: KernelBench's published sizes where they run in seconds, else the sizes given here (the
bench measures the published ones). fp16 / bf16 cases cast the task's inputs (tasks without
weights only: the verifier's precision option is what casts a model's parameters)."""

from __future__ import annotations

import os

import pytest
import torch
from kb_gpu import gpu_verifier, kernelbench_task

from akg_agents.builtin.generator import generate
from akg_agents.verify.evaluate import Verifier

pytestmark = pytest.mark.gpu
COUNT = int(os.environ.get("AKG_FAMILY_COUNT", "2"))
RESULTS: list[dict] = []

CASES: list[tuple[str, dict[str, int], str]] = [  # problem, sizes (empty: published), dtype
    ("1", {}, "float32"), ("2", {}, "float16"), ("3", {"batch_size": 32}, "float32"), ("3", {"batch_size": 32}, "bfloat16"),
    ("4", {"K": 262144}, "float32"), ("5", {}, "float32"), ("6", {"K": 131072}, "float32"), ("7", {}, "float32"), ("8", {}, "float32"),
    ("9", {}, "float32"), ("10", {}, "float32"), ("11", {}, "float32"), ("13", {}, "float32"), ("14", {}, "float32"),
    ("14", {}, "bfloat16"), ("15", {}, "float32"), ("16", {}, "float32"), ("17", {}, "float16"), ("18", {}, "float32"),
    ("41", {}, "float32"), ("42", {"batch_size": 8}, "float32"), ("43", {}, "float32"), ("44", {}, "float32"),
    ("45", {"batch_size": 4}, "float16"), ("46", {}, "float32"),
    ("50", {"batch_size": 64}, "float32"), ("54", {}, "float32"), ("55", {"batch_size": 2}, "float32"),
    ("57", {"batch_size": 2, "height": 256, "width": 256}, "float32"), ("64", {"batch_size": 8}, "float32"),
    ("67", {"batch_size": 8}, "float32"), ("72", {}, "float32"), ("75", {"batch_size": 4}, "float32"),
    ("76", {}, "float32"), ("82", {}, "float32"), ("87", {}, "float32"),
]



@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory):
    yield from gpu_verifier(tmp_path_factory, "family_cache", RESULTS, "AKG_FAMILY_JSON")


@pytest.mark.parametrize(("problem", "sizes", "dtype"), CASES, ids=[f"{p}-{d}" for p, _, d in CASES])
def test_builtin_family_candidates_pass(verifier: Verifier, problem: str, sizes: dict[str, int], dtype: str) -> None:
    assert torch.cuda.is_available()
    task = kernelbench_task(problem, sizes, dtype)
    failures = []
    for cand in generate(task, "triton_cuda", COUNT):
        result = verifier.evaluate(task, cand)
        row = {"task": task.name, "candidate": cand.id, "params": cand.params, "status": result.status.value,
               "message": result.message}
        if result.profile is not None:
            p = result.profile
            row.update(candidate_ms=p.candidate.median_ms, eager_ms=p.eager.median_ms, speedup=p.speedup)
            print(f"{task.name[:40]:40s} {cand.id:24s} {result.status.value:8s} cand {p.candidate.median_ms:.4f} ms  "
                  f"eager {p.eager.median_ms:.4f} ms  speedup {p.speedup:.2f}x  {cand.params}", flush=True)
        else:
            print(f"{task.name[:40]:40s} {cand.id:24s} {result.status.value:8s} {result.message[:300]}", flush=True)
        RESULTS.append(row)
        if not result.ok:
            failures.append(f"{cand.id} {cand.params}: {result.status.value} {result.message[:300]}")
    assert not failures, failures
