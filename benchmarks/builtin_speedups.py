"""Speedup of the built-in generator's best cpp kernel over eager PyTorch on each example task.

Runs the `default` workflow (built-in generator, every variant verified and profiled) per task,
on the given number of threads, and prints one table: speedup = eager / kernel, both timed
interleaved in the same process. Run:  python benchmarks/builtin_speedups.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

from akg_agents.config.settings import load_settings
from akg_agents.records import RunConfig
from akg_agents.tasks.loader import load_tasks
from akg_agents.workflows.runner import execute

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=Path, default=ROOT / "examples" / "tasks")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "builtin_speedups.json")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings("cpp", {"log_dir": tmp, "cache_dir": str(Path(tmp) / "cache")})
        for task in load_tasks(args.tasks):
            config = RunConfig("torch", "cpu", "x86_64", "cpp", "default", "builtin", threads=args.threads,
                               max_candidates=args.candidates, run_times=args.runs, warmup_times=10)
            outcome = execute(task, config, settings)
            best = outcome.best
            row = {"task": task.name, "declined": outcome.declined, "speedup": None, "kernel_ms": None, "eager_ms": None}
            if best is not None and best[1].profile is not None:
                profile = best[1].profile
                row.update(speedup=profile.speedup, kernel_ms=profile.candidate.median_ms, eager_ms=profile.eager.median_ms,
                           best=best[0].id, params=best[0].params)
            rows.append(row)
            print(f"{task.name:22s} " + (f"{row['speedup']:.2f}x  kernel {row['kernel_ms']:.4f} ms  eager {row['eager_ms']:.4f} ms"
                                           if row["speedup"] else f"declined: {row['declined']}"))
    speedups = [r["speedup"] for r in rows if r["speedup"]]
    geomean = math.exp(sum(math.log(s) for s in speedups) / len(speedups)) if speedups else 0.0
    print(f"geometric mean over {len(speedups)} covered tasks: {geomean:.2f}x ({args.threads} threads)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"threads": args.threads, "geomean": geomean, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
