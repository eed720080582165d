"""Profiler-like rounds for one cpu_small task: fresh inputs every round; each built-in candidate
with and without the verifier's dispatch guard (verify/guards.ForwardGuard) around its call, its
output copied into a slot afterwards (as the referee does), eager's output overwritten after its
call (as the worker poisons it); the order rotates every round. Columns: median ms, min ms, eager's
median over this one.

    python benchmarks/cpu_profiler_like.py 01_relu [rounds]
"""

from __future__ import annotations

import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin.generator import generate
from akg_agents.records import Task
from akg_agents.verify.guards import ForwardGuard

SUITE = Path(__file__).resolve().parents[1] / "src/akg_agents/bench/suites/cpu_small"


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, name, "exec"), module.__dict__)
    return module


def main() -> None:
    name = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    torch.set_num_threads(2)
    path = SUITE / f"{name}.py"
    task = Task(path.stem, path.read_text())
    ref = _module(task.source, "ref")
    init = ref.get_init_inputs()
    torch.manual_seed(0)
    eager = ref.Model(*init)
    models: dict[str, Any] = {}
    for candidate in generate(task, "cpp", 4, 2):
        torch.manual_seed(0)
        models[candidate.id] = _module(candidate.code, candidate.id.replace("-", "_")).ModelNew(*init)
    slots: dict[str, torch.Tensor] = {}

    def run_candidate(key: str, model: Any, guarded: bool, inputs: list[Any]) -> float:
        start = time.perf_counter()
        if guarded:
            with ForwardGuard(poison=False):
                out = model(*inputs)
        else:
            out = model(*inputs)
        elapsed = time.perf_counter() - start
        slots.setdefault(key, torch.empty_like(out)).copy_(out)
        return elapsed

    def run_eager(inputs: list[Any]) -> float:
        start = time.perf_counter()
        out = eager(*inputs)
        elapsed = time.perf_counter() - start
        out.fill_(float("nan"))
        return elapsed

    lineup: list[tuple[str, str, bool]] = [("eager", "", False)]
    lineup += [(f"{key}{' guarded' if guarded else ''}", key, guarded) for key in models for guarded in (False, True)]
    samples: dict[str, list[float]] = {label: [] for label, _, _ in lineup}
    with torch.no_grad():
        for r in range(rounds):
            torch.manual_seed(r)
            inputs = list(ref.get_inputs())
            shift = r % len(lineup)
            for label, key, guarded in lineup[shift:] + lineup[:shift]:
                took = run_eager(inputs) if not key else run_candidate(label, models[key], guarded, inputs)
                samples[label].append(took)
            del inputs
    eager_ms = statistics.median(samples["eager"])
    for label, values in samples.items():
        print(f"| {name} | {label} | {statistics.median(values) * 1e3:.3f} | {min(values) * 1e3:.3f} "
              f"| {eager_ms / statistics.median(values):.2f}x |")


if __name__ == "__main__":
    main()
