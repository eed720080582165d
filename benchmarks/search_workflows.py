"""default vs evolve vs adaptive_search with the built-in generator, under the same evaluation budget.

For every task of a suite (default: the bundled cpu_small), each workflow gets its own run (its own
log folder, so its own kernel database: no workflow profits from another's evaluations) with
--max-candidates BUDGET. The three runs of a task are made back to back, in an order that rotates
from task to task, so a change in machine load hits every workflow alike. The best speedup of a
run is the one its finalists' race measured (re-timed side by side against eager).

Prints a per-task table and the geometric-mean speedups side by side (over the tasks where every
workflow verified a kernel), and writes results.jsonl (one line per run, appended as runs finish,
so an interrupted benchmark continues where it stopped), summary.md and summary.json.

    python benchmarks/search_workflows.py --budget 6 --out benchmarks/results/search
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from akg_agents.bench.collect import task_result
from akg_agents.bench.suite import load_suite
from akg_agents.config.settings import load_settings
from akg_agents.errors import TaskError
from akg_agents.records import RunConfig, Task
from akg_agents.workflows.runner import execute, make_evaluator

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("default", "evolve", "adaptive_search")


def run_one(task: Task, workflow: str, args: argparse.Namespace, evaluator: Any) -> dict[str, Any]:
    config = RunConfig("torch", "cpu", os.uname().machine, "cpp", workflow, "builtin", max_candidates=args.budget,
                       threads=args.threads, scale_budget_ms=args.scale_budget_ms)
    settings = load_settings("cpp", {"log_dir": str(args.out / "runs" / workflow / task.name)})
    started = time.monotonic()
    try:
        outcome = execute(task, config, settings, evaluator=evaluator)
    except TaskError as error:
        return {"task": task.name, "workflow": workflow, "status": "error", "reason": str(error)[:200]}
    return result_row(outcome.store.root, task.name, workflow, time.monotonic() - started)


def result_row(run_dir: Path, name: str, workflow: str, wall_s: float) -> dict[str, Any]:
    """One finished run as a results.jsonl line (also used by search_gpu.py)."""
    result = task_result(run_dir, name, wall_s=wall_s)
    return {"task": name, "workflow": workflow, "status": result.status, "speedup": result.speedup,
            "candidates": result.candidates, "passed": result.passed, "best_so_far": result.best_so_far,
            "best": result.best_candidate, "wall_s": round(result.wall_s, 1), "run_dir": str(run_dir),
            "reason": result.reason}


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def summarize(rows: list[dict[str, Any]], workflows: tuple[str, ...], budget: int) -> tuple[str, dict[str, Any]]:
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_task.setdefault(row["task"], {})[row["workflow"]] = row
    lines = [f"| task | {' | '.join(workflows)} |", "|---|" + "---|" * len(workflows)]
    common: dict[str, list[float]] = {w: [] for w in workflows}
    for task, runs in by_task.items():
        cells = []
        for w in workflows:
            run = runs.get(w)
            speed = run.get("speedup") if run else None
            cells.append(f"{speed:.2f}x ({run['candidates']} ev)" if run and speed else (run["status"] if run else "not run"))
        lines.append(f"| {task} | {' | '.join(cells)} |")
        if all(runs.get(w, {}).get("speedup") for w in workflows):
            for w in workflows:
                common[w].append(runs[w]["speedup"])
    means = {w: geomean(v) for w, v in common.items()}
    count = len(next(iter(common.values()))) if common else 0
    head = [f"Budget: {budget} evaluations per run. Geometric mean over the {count} task(s) where every workflow "
            "verified a kernel:", ""]
    base = means.get("default")
    ratios: dict[str, float] = {}
    for w in workflows:
        mean = means[w]
        if mean is not None and base and w != "default":
            ratios[w] = mean / base
        ratio = f" ({ratios[w]:.3f}x the default's)" if w in ratios else ""
        head.append(f"- {w}: {mean:.3f}x{ratio}" if mean is not None else f"- {w}: -")
    floor = noise_floor(by_task, workflows, budget)
    if floor is not None:
        head += ["", f"Noise floor: on the {floor[1]} task(s) whose whole search space is smaller than the budget, every "
                 "workflow evaluated the same kernels, so their best speedups differ by measurement noise alone: "
                 f"the geometric mean of (highest / lowest) best speedup there is {floor[0]:.3f}x."]
    data = {"budget": budget, "tasks": count, "geomean": means, "ratio_vs_default": ratios,
            "noise_floor": floor[0] if floor else None}
    return "\n".join([*head, "", *lines]) + "\n", data


def noise_floor(by_task: dict[str, dict[str, dict[str, Any]]], workflows: tuple[str, ...],
                budget: int) -> tuple[float, int] | None:
    """Tasks where every run evaluated fewer candidates than the budget: the space was exhausted."""
    spreads = []
    for runs in by_task.values():
        chosen = [runs.get(w) for w in workflows]
        if all(r and r.get("speedup") and r["candidates"] < budget for r in chosen):
            speeds = [r["speedup"] for r in chosen if r]
            spreads.append(max(speeds) / min(speeds))
    value = geomean(spreads)
    return (value, len(spreads)) if value is not None else None


def run_all(tasks: list[Task], workflows: tuple[str, ...], args: argparse.Namespace, rows: list[dict[str, Any]],
            results_file: Path) -> None:
    """Every (task, workflow) run not in results.jsonl yet; one warm evaluator for all of them."""
    done = {(r["task"], r["workflow"]) for r in rows}
    probe = RunConfig("torch", "cpu", os.uname().machine, "cpp", "default", "builtin", threads=args.threads)
    evaluator = make_evaluator(probe, load_settings("cpp"))
    try:
        for index, task in enumerate(tasks):
            order = workflows[index % len(workflows):] + workflows[: index % len(workflows)]
            for workflow in order:
                if (task.name, workflow) in done:
                    continue
                row = run_one(task, workflow, args, evaluator)
                rows.append(row)
                with open(results_file, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{task.name:22s} {workflow:16s} {row['status']:10s} "
                      f"{(row.get('speedup') or 0):6.2f}x  {row.get('candidates', 0)} evaluated", flush=True)
    finally:
        evaluator.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="cpu_small")
    parser.add_argument("--problems", default=None, help="e.g. 1-13 (the leading number of each file)")
    parser.add_argument("--budget", type=int, default=6, help="evaluations per run (--max-candidates)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--scale-budget-ms", type=float, default=5.0)
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search")
    parser.add_argument("--summarize-only", action="store_true", help="only rewrite the summary from results.jsonl")
    args = parser.parse_args()
    workflows = tuple(args.workflows.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    _, tasks = load_suite(args.suite, problems=args.problems)
    results_file = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    if not args.summarize_only:
        run_all(tasks, workflows, args, rows, results_file)
    markdown, data = summarize(rows, workflows, args.budget)
    (args.out / "summary.md").write_text(f"# Search workflows, built-in generator, suite {args.suite}\n\n{markdown}")
    (args.out / "summary.json").write_text(json.dumps(data, indent=2))
    print(markdown)


if __name__ == "__main__":
    main()
