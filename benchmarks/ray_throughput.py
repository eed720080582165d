"""Throughput of evaluation on Ray actors vs the local device pool, on the same CPU devices.

Both evaluate the same candidates (a verified, profiled relu kernel in N textually different
copies) on K CPU "devices": the local DevicePool with K cpu slots, and K Ray actors on a local
one-node cluster (ray.init with K CPUs), each actor hosting the same per-device verifier. Both
are warmed up first (workers started, task prepared), so the figure is steady-state throughput,
not start-up. Batches alternate local, Ray, local, Ray ... so machine load drifts hit both alike;
the ratio reported is median(Ray candidates/s) / median(local candidates/s).

    python benchmarks/ray_throughput.py --devices 1 --candidates 8 --rounds 3 [--task examples/tasks/relu.py]

The task must be a relu (the candidate is a relu kernel); its size sets how long one evaluation
takes, hence how much Ray's fixed cost per call (a remote call and its reply) weighs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import ray

from akg_agents.records import Candidate, Status
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.runtime.ray_pool import RayEvaluator
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import VerifySettings
from akg_agents.verify.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
RELU = '''import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

CPP_SOURCE = r"""
#include <cstdint>
extern "C" void relu_k(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) { float v = x[i]; y[i] = v < 0.0f ? 0.0f : v; }
}
"""
_lib = load_cpp(CPP_SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_k(x, y, x.numel())
        return y
'''


def load() -> str:
    return os.getloadavg().__repr__()


async def batch(evaluator: Evaluator, task, candidates: list[Candidate]) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    results = await asyncio.gather(*(evaluator.evaluate(task, c, True) for c in candidates))
    wall = time.perf_counter() - started
    bad = [r for r in results if r.status is not Status.PASSED]
    assert not bad, bad[0].message
    return len(candidates) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--task", type=Path, default=ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "ray")
    args = parser.parse_args()
    task = load_task(args.task)
    settings = VerifySettings(device="cpu", threads=1, run_times=10, warmup_times=2)
    cache = tempfile.mkdtemp(prefix="akg_ray_bench_")
    load_before = load()
    local = Evaluator(DevicePool(["cpu"] * args.devices, cache, settings,
                                 sandbox_factory=_distinct_sandboxes(cache)))
    ray.init(num_cpus=args.devices, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    started = time.perf_counter()
    remote = RayEvaluator.connect("", cache, settings, "cpp", cpu_devices=args.devices)
    ray_start_s = time.perf_counter() - started
    try:
        local.reference(task)
        remote.reference(task)
        warm = [Candidate(f"warm{i}", "cpp", RELU + f"\n# warm {i}\n") for i in range(args.devices)]
        asyncio.run(batch(local, task, warm))
        asyncio.run(batch(remote, task, warm))
        rates: dict[str, list[float]] = {"local": [], "ray": []}
        for r in range(args.rounds):
            candidates = [Candidate(f"r{r}c{i}", "cpp", RELU + f"\n# round {r} copy {i}\n") for i in range(args.candidates)]
            for name, evaluator in (("local", local), ("ray", remote)):
                rates[name].append(asyncio.run(batch(evaluator, task, candidates)))
                print(f"round {r} {name}: {rates[name][-1]:.3f} candidates/s", flush=True)
    finally:
        local.close()
        remote.close()
        ray.shutdown()
    ratio = statistics.median(rates["ray"]) / statistics.median(rates["local"])
    report = {"task": task.name, "devices": args.devices, "candidates_per_batch": args.candidates, "rounds": args.rounds,
              "candidates_per_s": rates, "ratio_ray_over_local": round(ratio, 4), "ray_start_s": round(ray_start_s, 2),
              "loadavg_before": load_before, "loadavg_after": load(), "cpus": os.cpu_count(),
              "verify": {"threads": 1, "run_times": 10, "warmup_times": 2, "profile": True}}
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"throughput_{task.name}_{args.devices}dev.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"Ray / local throughput: {ratio:.3f} (median of {args.rounds} interleaved batches); wrote {path}")


def _distinct_sandboxes(cache: str):  # type: ignore[no-untyped-def]
    """K local cpu slots, each with its own sandbox folder (as the K Ray actors have)."""
    count = iter(range(1_000_000))

    def make(_cache_dir: str, env: dict[str, str]) -> Sandbox:
        return Sandbox(os.path.join(cache, f"device_local_{next(count)}"), env_extra=env)

    return make


if __name__ == "__main__":
    main()
