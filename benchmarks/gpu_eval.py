"""GPU evidence for issue #4: verify + profile example kernels per DSL, evaluation latency,
profiler repeatability, agreement with Nsight Compute, a compute-sanitizer report.

    PYTHONPATH=src python benchmarks/gpu_eval.py --out DIR [--sections verify,latency,repeat,ncu,sanitize]

Prints one table per section and writes DIR/gpu_eval.json. Tasks come from examples/tasks
(scaled to GPU sizes, listed in the JSON) and benchmarks/gpu_tasks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from akg_agents.dsl import get_plugin  # noqa: E402
from akg_agents.records import Candidate, EvalResult, Task, to_dict  # noqa: E402
from akg_agents.runtime.device_pool import DevicePool  # noqa: E402
from akg_agents.tasks.scale import with_sizes  # noqa: E402
from akg_agents.verify.evaluate import Verifier, VerifySettings  # noqa: E402
from akg_agents.verify.sandbox import Sandbox  # noqa: E402

CANDIDATES = ROOT / "benchmarks" / "gpu_candidates"
TASK_DIRS = [ROOT / "examples" / "tasks", ROOT / "benchmarks" / "gpu_tasks"]
GPU_SIZES: dict[str, dict[str, int]] = {
    "relu": {"batch_size": 16384, "dim": 4096},  # outputs over 512 MB hit the sandbox file limit
    "softmax": {"batch_size": 16384, "dim": 4096},
    "rmsnorm": {"batch_size": 16384, "dim": 4096},
    "layernorm": {"batch_size": 16384, "dim": 4096},
    "bias_gelu": {"batch_size": 16384, "dim": 4096},
    "sum_reduce": {"batch_size": 16384, "dim": 8192},
    "swish_mul": {"batch_size": 16384, "dim": 4096},
    "scale_tanh_residual": {"batch_size": 16384, "dim": 4096},
    "matmul_fp16": {},
}
# (dsl, task, candidate file stem or "example")
ENTRIES = [
    ("triton_cuda", "relu", "example"), ("triton_cuda", "softmax", "softmax"),
    ("triton_cuda", "rmsnorm", "rmsnorm"), ("triton_cuda", "layernorm", "layernorm"),
    ("triton_cuda", "bias_gelu", "bias_gelu"), ("triton_cuda", "sum_reduce", "sum_reduce"),
    ("triton_cuda", "swish_mul", "swish_mul"), ("triton_cuda", "matmul_fp16", "matmul_fp16"),
    ("cuda_c", "relu", "example"), ("cuda_c", "softmax", "softmax"), ("cuda_c", "rmsnorm", "rmsnorm"),
    ("tilelang_cuda", "relu", "example"), ("tilelang_cuda", "softmax", "softmax"),
    ("tilelang_cuda", "matmul_fp16", "matmul_fp16"),
]
SETTINGS = VerifySettings(device="cuda", timeout_s=300.0, warmup_times=10, run_times=50)


def gpu_task(name: str, sizes: dict[str, int] | None = None) -> Task:
    """The task at GPU sizes (GPU_SIZES), or at `sizes` ({} keeps the file's own sizes)."""
    path = next(d / f"{name}.py" for d in TASK_DIRS if (d / f"{name}.py").exists())
    task = Task(name=name, source=path.read_text(), path=str(path))
    sizes = GPU_SIZES.get(name, {}) if sizes is None else sizes
    return with_sizes(task, sizes) if sizes else task


def candidate_code(dsl: str, stem: str) -> str:
    return get_plugin(dsl).example() if stem == "example" else (CANDIDATES / dsl / f"{stem}.py").read_text()


def row(result: EvalResult) -> dict[str, Any]:
    out: dict[str, Any] = {"status": result.status.value, "message": result.message, "timings_s": result.timings_s}
    if result.profile is not None:
        p = result.profile
        out.update(candidate_ms=p.candidate.median_ms, candidate_spread_ms=p.candidate.spread_ms,
                   eager_ms=p.eager.median_ms, speedup=p.speedup, flags=p.flags)
    if not result.ok:
        out["log_tail"] = result.log_tail[-1500:]
    return out


def section_verify(cache: str, dsls: set[str]) -> list[dict[str, Any]]:
    """Every entry through the device pool (one GPU: one sandbox, triton preloaded)."""
    pool = DevicePool.from_arg("0", cache, SETTINGS, preload=("triton",))

    async def run_all() -> list[dict[str, Any]]:
        rows = []
        for dsl, task_name, stem in ENTRIES:
            if dsl not in dsls:
                continue
            task = gpu_task(task_name)
            cand = Candidate(id=f"{dsl}-{task_name}", dsl=dsl, code=candidate_code(dsl, stem), agent="user")
            start = time.perf_counter()
            try:
                result = await pool.evaluate(task, cand)
                data = {"dsl": dsl, "task": task_name, "sizes": task.sizes, **row(result)}
            except Exception as exc:  # a missing toolchain (tilelang) is reported, not fatal
                data = {"dsl": dsl, "task": task_name, "status": "error", "message": repr(exc)}
            data["wall_s"] = time.perf_counter() - start
            print(_fmt_verify(data), flush=True)
            rows.append(data)
        return rows

    try:
        return asyncio.run(run_all())
    finally:
        pool.close()


BUILTIN_TASKS = ["relu", "swish_mul", "bias_gelu", "scale_tanh_residual", "softmax", "rmsnorm", "layernorm", "sum_reduce"]


def section_builtin(cache: str, count: int = 3) -> list[dict[str, Any]]:
    """The built-in Triton generator (builtin/triton_codegen.py): `count` variants per task."""
    from akg_agents.builtin.triton_codegen import triton_candidates

    verifier = Verifier(SETTINGS, cache, sandbox=Sandbox(os.path.join(cache, "builtin"), env_extra={"AKG_AGENTS_PRELOAD": "triton"}))
    rows = []
    try:
        for task_name in BUILTIN_TASKS:
            task = gpu_task(task_name)
            for cand in triton_candidates(task, count):
                result = verifier.evaluate(task, cand)
                data = {"dsl": "triton_cuda(builtin)", "task": task_name, "params": cand.params, "wall_s": result.timings_s.get("total", 0.0), **row(result)}
                rows.append(data)
                print(_fmt_verify(data) + f"  {cand.params}", flush=True)
    finally:
        verifier.close()
    return rows


def _fmt_verify(d: dict[str, Any]) -> str:
    if "speedup" in d:
        flags = f"  flags: {d['flags']}" if d.get("flags") else ""
        return (f"{d['dsl']:14s} {d['task']:12s} {d['status']:8s} cand {d['candidate_ms']:.4f} ms  "
                f"eager {d['eager_ms']:.4f} ms  speedup {d['speedup']:.2f}x  wall {d['wall_s']:.1f} s{flags}")
    return f"{d['dsl']:14s} {d['task']:12s} {d['status']:8s} {d.get('message', '')[:200]}  {d.get('log_tail', '')[-600:]}"


def bust(dsl: str, code: str) -> str:
    """A semantically equal variant that no compile cache has seen."""
    nonce = uuid.uuid4().hex[:12]
    if dsl == "triton_cuda":  # Triton keys its cache on the kernel's own source: comment inside it
        return re.sub(r"(\n(\s+))(\w+ = tl\.program_id\(0\))", rf"\1# nonce {nonce}\1\3", code, count=1)
    code = code.replace("akg_relu_inline", f"akg_relu_inline_{nonce}")
    return code.replace("#include <cuda_runtime.h>", f"#include <cuda_runtime.h>\n// nonce {nonce}", 1)


def section_latency(cache: str, dsls: set[str], inline: bool) -> list[dict[str, Any]]:
    """Warm sandbox, cached reference, new source: compile + verify + profile wall time."""
    rows = []
    cases = [("triton_cuda", "relu", "example"), ("triton_cuda", "softmax", "softmax"),
             ("cuda_c", "relu", "example"), ("cuda_c", "softmax", "softmax")]
    configs = [("preload triton", {"AKG_AGENTS_PRELOAD": "triton"}), ("no preload", {})]
    for label, env in configs:
        verifier = Verifier(SETTINGS, cache, sandbox=Sandbox(os.path.join(cache, f"lat_{len(env)}"), env_extra=env))
        try:
            for dsl, task_name, stem in cases:
                if dsl not in dsls or (label == "no preload" and dsl != "triton_cuda"):
                    continue
                task = gpu_task(task_name, {})  # the files' own sizes: overhead, not 256 MB of I/O
                verifier.reference(task)
                base = candidate_code(dsl, stem)
                verifier.evaluate(task, Candidate(id="warm", dsl=dsl, code=bust(dsl, base)))  # warm the server
                for attempt in range(3):
                    for kind, code in (("new source", bust(dsl, base)), ("cached", base)):
                        result = verifier.evaluate(task, Candidate(id=f"lat{attempt}", dsl=dsl, code=code))
                        data = {"config": label, "dsl": dsl, "task": task_name, "kind": kind, "attempt": attempt, **row(result)}
                        rows.append(data)
                        print(f"{label:15s} {dsl:12s} {task_name:8s} {kind:10s} {result.status.value:8s} "
                              f"total {result.timings_s.get('total', 0):.2f} s  "
                              f"(compile {result.timings_s.get('compile', 0):.2f}, verify {result.timings_s.get('verify', 0):.2f}, "
                              f"profile {result.timings_s.get('profile', 0):.2f})", flush=True)
            if inline and label == "preload triton" and "cuda_c" in dsls:
                task = gpu_task("relu", {})
                code = bust("cuda_c", (CANDIDATES / "cuda_c" / "relu_load_inline.py").read_text())
                result = verifier.evaluate(task, Candidate(id="inline", dsl="cuda_c", code=code))
                rows.append({"config": label, "dsl": "cuda_c", "task": "relu", "kind": "load_inline new source", **row(result)})
                print(f"load_inline cuda_c relu: {result.status.value} total {result.timings_s.get('total', 0):.2f} s "
                      f"(compile {result.timings_s.get('compile', 0):.2f}) {result.message}", flush=True)
        finally:
            verifier.close()
    return rows


def section_repeat(cache: str, dsls: set[str]) -> list[dict[str, Any]]:
    """The same kernel profiled 5 times (5 separate evaluations): spread of the medians.

    At 4096 x 4096 (64 MB per tensor: past L2, small enough that the I/O stays quick), once
    with the read flush (default) and once with the write flush (triton do_bench's).
    """
    rows = []
    sizes = {"batch_size": 4096, "dim": 4096}
    for mode in ("read", "write"):
        env = {"AKG_AGENTS_PRELOAD": "triton", "AKG_AGENTS_L2_FLUSH": mode}
        verifier = Verifier(SETTINGS, cache, sandbox=Sandbox(os.path.join(cache, f"repeat_{mode}"), env_extra=env))
        try:
            for dsl, task_name, stem in [("triton_cuda", "softmax", "softmax"), ("cuda_c", "rmsnorm", "rmsnorm"),
                                         ("triton_cuda", "relu", "example")]:
                if dsl not in dsls:
                    continue
                task = gpu_task(task_name, sizes)
                medians, eager, within = [], [], []
                for _ in range(5):
                    result = verifier.evaluate(task, Candidate(id="rep", dsl=dsl, code=candidate_code(dsl, stem)))
                    if result.profile:
                        medians.append(result.profile.candidate.median_ms)
                        eager.append(result.profile.eager.median_ms)
                        within.append(result.profile.candidate.spread_ms)
                spread = (max(medians) - min(medians)) / statistics.median(medians) if medians else float("nan")
                data = {"flush": mode, "dsl": dsl, "task": task_name, "sizes": sizes, "candidate_medians_ms": medians,
                        "eager_medians_ms": eager, "within_run_p10_p90_ms": within, "relative_spread": spread}
                rows.append(data)
                print(f"repeat flush={mode:5s} {dsl:12s} {task_name:8s} medians {[round(m, 4) for m in medians]}  "
                      f"spread {spread * 100:.2f}%  eager {[round(m, 4) for m in eager]}", flush=True)
        finally:
            verifier.close()
    return rows


def _ncu_times(task: str, cand: Path, sizes: list[str], kernel_regex: str) -> list[float]:
    ncu = next((p for p in ("/usr/local/cuda/bin/ncu", "ncu") if os.path.exists(p) or p == "ncu"), "ncu")
    cmd = [ncu, "--csv", "--metrics", "gpu__time_duration.sum", "--clock-control", "none", "--cache-control", "all",
           "-k", f"regex:{kernel_regex}", "--launch-skip", "3", "--launch-count", "10",
           sys.executable, str(ROOT / "benchmarks" / "gpu_probe.py"), task, str(cand), "--mode", "ncu", *sizes]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env={**os.environ})
    values = []
    for line in proc.stdout.splitlines():
        if "gpu__time_duration.sum" in line:
            cells = [c.strip('"') for c in line.split('","')]
            unit, value = cells[-2], float(cells[-1].replace(",", ""))
            values.append(value * {"nsecond": 1e-6, "ns": 1e-6, "usecond": 1e-3, "us": 1e-3, "msecond": 1.0, "ms": 1.0}.get(unit, 1e-6))
    if not values:
        raise RuntimeError(f"ncu gave no timings: {proc.stdout[-1500:]} {proc.stderr[-1500:]}")
    return values


def section_ncu() -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for dsl, task_name, stem, regex in [("triton_cuda", "relu", "example", "relu_kernel"),
                                            ("triton_cuda", "softmax", "softmax", "softmax_kernel"),
                                            ("cuda_c", "rmsnorm", "rmsnorm", "rmsnorm_kernel")]:
            task = gpu_task(task_name)
            task_path = Path(work) / f"{task_name}.py"
            task_path.write_text(task.source)
            cand = Path(work) / f"{dsl}_{stem}.py"
            cand.write_text(candidate_code(dsl, stem))
            probe = [sys.executable, str(ROOT / "benchmarks" / "gpu_probe.py"), str(task_path), str(cand), "--mode", "timer"]
            timer = json.loads(subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
            try:
                ncu = _ncu_times(str(task_path), cand, [], regex)
                ncu_ms = statistics.median(ncu)
                data = {"dsl": dsl, "task": task_name, "timer_median_ms": timer["median_ms"], "ncu_median_ms": ncu_ms,
                        "ncu_samples_ms": ncu, "ratio_timer_over_ncu": timer["median_ms"] / ncu_ms}
                print(f"ncu {dsl:12s} {task_name:8s} CudaTimer {timer['median_ms']:.4f} ms  ncu {ncu_ms:.4f} ms  "
                      f"ratio {data['ratio_timer_over_ncu']:.3f}", flush=True)
            except Exception as exc:
                data = {"dsl": dsl, "task": task_name, "timer_median_ms": timer["median_ms"], "error": repr(exc)[:2000]}
                print(f"ncu {dsl} {task_name}: {exc!r}"[:2000], flush=True)
            rows.append(data)
    return rows


OOB_CANDIDATE = '''
import torch
import torch.nn as nn
from akg_agents.dsl.cuda_loader import load_cuda

SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>
// Planted bug: the bound check is off by 4096 elements, so the last threads write past the end.
__global__ void relu_kernel(const float* x, float* y, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n + 4096) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    relu_kernel<<<(unsigned)((n + 4096 + 255) / 256), 256>>>(x, y, n);
}
"""
_lib = load_cuda(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
'''


def section_sanitize(cache: str) -> dict[str, Any]:
    from akg_agents.verify.sanitizer import sanitize

    task = Task(name="relu_small", source=(ROOT / "examples" / "tasks" / "relu.py").read_text())
    start = time.perf_counter()
    report = sanitize(task, Candidate(id="oob", dsl="cuda_c", code=OOB_CANDIDATE), cache_dir=cache, env_extra={"PYTHONPATH": str(ROOT / "src")})
    elapsed = time.perf_counter() - start
    print(f"compute-sanitizer memcheck ({elapsed:.1f} s):\n{report[:1500]}", flush=True)
    return {"report": report, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="benchmarks/results/gpu")
    parser.add_argument("--sections", default="verify,latency,repeat,builtin,ncu,sanitize")
    parser.add_argument("--dsls", default="triton_cuda,cuda_c,tilelang_cuda")
    parser.add_argument("--no-inline", action="store_true", help="skip the ~40 s load_inline build")
    parser.add_argument("--cache", default="")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    dsls = set(args.dsls.split(","))
    cache = args.cache or tempfile.mkdtemp(prefix="akg_gpu_eval_")
    import torch

    report: dict[str, Any] = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                              "settings": to_dict(SETTINGS) if hasattr(SETTINGS, "__dataclass_fields__") else {}}
    steps = [("verify", lambda: section_verify(cache, dsls)), ("latency", lambda: section_latency(cache, dsls, not args.no_inline)),
             ("repeat", lambda: section_repeat(cache, dsls)), ("builtin", lambda: section_builtin(cache)), ("ncu", section_ncu), ("sanitize", lambda: section_sanitize(cache))]
    os.makedirs(args.out, exist_ok=True)
    for name, step in steps:
        if name in sections:
            print(f"\n== {name}", flush=True)
            start = time.perf_counter()
            try:
                report[name] = step()
            except Exception as exc:
                report[name] = {"error": repr(exc)}
                print(f"section {name} failed: {exc!r}", flush=True)
            print(f"   ({time.perf_counter() - start:.1f} s)", flush=True)
            Path(args.out, "gpu_eval.json").write_text(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main()
