"""The built-in Triton matmul + fused epilogue generator on a real GPU: every candidate it emits
for these tasks compiles, matches PyTorch (fp32: 1e-4, fp16: 1e-2) and is profiled against eager.

Per candidate it prints status, candidate / eager medians and the speedup; with AKG_MATMUL_JSON
set it also writes them there as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from akg_agents.builtin.triton_codegen import triton_candidates
from akg_agents.records import Task
from akg_agents.verify.evaluate import Verifier, VerifySettings
from akg_agents.verify.sandbox import Sandbox

pytestmark = pytest.mark.gpu
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tasks"

MATMUL_BIAS_RELU_FP16 = (FIXTURES / "matmul_bias_relu_fp16.py").read_text()

LINEAR_GELU_FP32 = (FIXTURES / "linear_gelu_fp32.py").read_text()

CASES = [("matmul_bias_relu_fp16_2048", MATMUL_BIAS_RELU_FP16), ("linear_gelu_fp32_1024", LINEAR_GELU_FP32)]
COUNT = int(os.environ.get("AKG_MATMUL_COUNT", "4"))
RESULTS: list[dict] = []


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory):
    cache = str(tmp_path_factory.mktemp("mm_cache"))
    settings = VerifySettings(device="cuda", timeout_s=300.0, warmup_times=10, run_times=50)
    v = Verifier(settings, cache, sandbox=Sandbox(os.path.join(cache, "sb"), env_extra={"AKG_AGENTS_PRELOAD": "triton"}))
    yield v
    v.close()
    path = os.environ.get("AKG_MATMUL_JSON")
    if path:
        with open(path, "w") as f:
            json.dump(RESULTS, f, indent=1)


@pytest.mark.parametrize("name,source", CASES)
def test_builtin_matmul_candidates_pass(verifier: Verifier, name: str, source: str) -> None:
    task = Task(name=name, source=source)
    candidates = triton_candidates(task, COUNT)
    failures = []
    for cand in candidates:
        result = verifier.evaluate(task, cand)
        row = {"task": name, "candidate": cand.id, "params": cand.params, "status": result.status.value,
               "message": result.message, "wall_s": round(result.timings_s.get("total", 0.0), 1)}
        if result.profile is not None:
            p = result.profile
            row.update(candidate_ms=p.candidate.median_ms, eager_ms=p.eager.median_ms, speedup=p.speedup, flags=p.flags)
            print(f"{name:28s} {cand.id:20s} {result.status.value:8s} cand {p.candidate.median_ms:.4f} ms  "
                  f"eager {p.eager.median_ms:.4f} ms  speedup {p.speedup:.2f}x  {cand.params}", flush=True)
        else:
            print(f"{name:28s} {cand.id:20s} {result.status.value:8s} {result.message[:200]} {result.log_tail[-800:]}", flush=True)
        RESULTS.append(row)
        if not result.ok:
            failures.append(f"{cand.id} {cand.params}: {result.status.value} {result.message}")
    assert not failures, failures
