"""Is the reported best CPU kernel really the fastest? An independent, interleaved re-measurement.

    python benchmarks/cpu_best_check.py RUN_DIR [--rounds 200]

Loads every passed candidate of a finished `akg_cli op` run from its own source file (no
verifier, no referee: just torch and the candidates' loaders), plus the task's eager Model, and
times them round-robin in one process, many rounds, the order rotated every round. Two input
regimes: `--inputs fresh` (default; each round a new input set drawn ahead of time, as the
verifier times) and `--inputs same` (one input set reused by every call: caches stay warm). Prints each one's median
and the ranking, and whether the run's reported best is the fastest here, with the ratio of the
best's time to the fastest's (1.00 = it is the fastest; within noise when the medians are close).
Writes the figures to RUN_DIR/best_check_{fresh,same}.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch


def _module(path: Path, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = str(path)
    sys.modules[name] = module
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--inputs", choices=("fresh", "same"), default="fresh")
    args = parser.parse_args()
    run: Path = args.run_dir
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    passed = [r["candidate"]["id"] for r in results if r["result"]["status"] == "passed"]
    best = json.loads((run / "state.json").read_text())["best"]
    task = _module(run / "task.py", "check_task")
    torch.manual_seed(1234)
    calls: dict[str, Any] = {"eager": task.Model(*task.get_init_inputs())}
    for cid in passed:
        torch.manual_seed(1234)
        calls[cid] = _module(run / "candidates" / f"{cid}.py", f"check_{cid.replace('-', '_')}").ModelNew(*task.get_init_inputs())
    sets = []
    for seed in range(args.rounds if args.inputs == "fresh" else 1):
        torch.manual_seed(seed)
        sets.append(list(task.get_inputs()))
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    with torch.no_grad():
        for _ in range(5):
            for fn in calls.values():
                fn(*sets[0])
        for round_index in range(args.rounds):
            inputs = sets[round_index % len(sets)]
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter_ns()
                calls[name](*inputs)
                samples[name].append((time.perf_counter_ns() - start) / 1e6)
    medians = {name: statistics.median(s) for name, s in samples.items()}
    ranking = sorted(passed, key=lambda cid: medians[cid])
    fastest = ranking[0]
    report = {
        "rounds": args.rounds, "inputs": args.inputs, "medians_ms": medians, "ranking": ranking, "reported_best": best, "fastest_here": fastest,
        "best_over_fastest": medians[best] / medians[fastest], "best_speedup_here": medians["eager"] / medians[best],
    }
    (run / f"best_check_{args.inputs}.json").write_text(json.dumps(report, indent=2))
    for name in ["eager", *ranking]:
        mark = "  <- reported best" if name == best else ""
        print(f"{name:12s} {medians[name]:8.4f} ms{mark}")
    print(f"reported best {best}: {report['best_over_fastest']:.3f}x the fastest's time here; "
          f"{report['best_speedup_here']:.2f}x over eager here")


if __name__ == "__main__":
    main()
