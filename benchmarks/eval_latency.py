"""Per-candidate evaluation latency (compile + verify + profile) on the relu example.

The same relu kernel, evaluated through the same Verifier, built two ways:
  fast loader   load_cpp: g++ -> shared library -> ctypes (cached by source hash)
  load_inline   torch.utils.cpp_extension.load_inline (KernelBench's way)
Each "cold" evaluation uses a fresh source (a nonce comment), so nothing comes from a cache;
"warm" re-evaluates a source already compiled. Run:  python benchmarks/eval_latency.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from akg_agents.dsl import get_plugin
from akg_agents.records import Candidate
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

ROOT = Path(__file__).resolve().parents[1]

LOAD_INLINE = '''
import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

CPP = r"""
#include <torch/extension.h>
// NONCE
torch::Tensor relu_forward(torch::Tensor x) {
    auto y = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    const int64_t n = x.numel();
    #pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) { float v = xp[i]; yp[i] = v < 0.0f ? 0.0f : v; }
    return y;
}
"""
_mod = load_inline(name="relu_NONCE", cpp_sources=CPP, functions=["relu_forward"],
                   extra_cflags=["-O3", "-march=native", "-fopenmp"], extra_ldflags=["-fopenmp"])


class ModelNew(nn.Module):
    def forward(self, x):
        return _mod.relu_forward(x.contiguous())
'''


def fast_loader_code(nonce: str) -> str:
    return get_plugin("cpp").example().replace("#include <cstdint>", f"#include <cstdint>\n// {nonce}")


def evaluate(verifier: Verifier, code: str, name: str) -> dict[str, float]:
    task = load_task(ROOT / "examples" / "tasks" / "relu.py")
    start = time.perf_counter()
    result = verifier.evaluate(task, Candidate(name, "cpp", code))
    wall = time.perf_counter() - start
    assert result.ok, result.feedback()
    return {"wall_s": wall, **{k: v for k, v in result.timings_s.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--inline-repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "eval_latency.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        verifier = Verifier(VerifySettings(threads=2, timeout_s=600), cache)
        verifier.reference(load_task(ROOT / "examples" / "tasks" / "relu.py"))  # once per task, not per candidate
        rows: dict[str, list[dict[str, float]]] = {"fast_cold": [], "fast_warm": [], "load_inline_cold": []}
        for _ in range(args.repeats):
            code = fast_loader_code(uuid.uuid4().hex)
            rows["fast_cold"].append(evaluate(verifier, code, "fast"))
            rows["fast_warm"].append(evaluate(verifier, code, "fast_warm"))
        for _ in range(args.inline_repeats):
            nonce = uuid.uuid4().hex[:12]
            rows["load_inline_cold"].append(evaluate(verifier, LOAD_INLINE.replace("NONCE", nonce), "inline"))
        verifier.close()
    summary = {name: {"median_wall_s": statistics.median(r["wall_s"] for r in runs),
                      "median_compile_s": statistics.median(r.get("compile", 0.0) for r in runs), "runs": len(runs)}
               for name, runs in rows.items() if runs}
    print(f"{'variant':18s} {'runs':>4s} {'wall (s)':>9s} {'compile (s)':>11s}")
    for name, s in summary.items():
        print(f"{name:18s} {s['runs']:4d} {s['median_wall_s']:9.3f} {s['median_compile_s']:11.3f}")
    if "load_inline_cold" in summary:
        ratio = summary["load_inline_cold"]["median_wall_s"] / summary["fast_cold"]["median_wall_s"]
        print(f"fast loader is {ratio:.0f}x faster per cold candidate than load_inline")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
