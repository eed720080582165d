"""default vs evolve vs adaptive_search with the built-in generator, under the same evaluation budget.

For every task of a suite (default: the bundled cpu_small), each workflow gets its own run (its own
log folder, so its own kernel database: no workflow profits from another's evaluations) with
--max-candidates BUDGET. The three runs of a task are made back to back, in an order that rotates
from task to task, so a change in machine load hits every workflow alike. The best speedup of a
run is the one its finalists' race measured (re-timed side by side against eager).

The task is prepared once (sizes scaled to --scale-budget-ms, references, eager timing) and the
three runs share it: before 2026-11-30 07:20 every run scaled the task itself, and the noisy eager
timing could give the workflows different sizes.

--retime R: after a task's runs, the best kernel of each workflow is re-timed R times side by side
in one race (all of them and eager on the same fresh inputs, in one process, the order rotated
from race to race), so load changes between the runs no longer decide which workflow "won". The
summary then also gives the medians of those races and their geometric-mean ratios, and which
parameter values each workflow evaluated.

Prints a per-task table and the geometric-mean speedups side by side (over the tasks where every
workflow verified a kernel), and writes results.jsonl (one line per run, appended as runs finish,
so an interrupted benchmark continues where it stopped), prep.jsonl (each task's sizes),
retime.jsonl, summary.md and summary.json.

    python benchmarks/search_workflows.py --budget 6 --retime 5 --out benchmarks/results/search
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import akg_agents.workflows.builtin_search as builtin_search
import akg_agents.workflows.lazy_space as lazy_space
from akg_agents.bench.collect import task_result
from akg_agents.bench.suite import load_suite
from akg_agents.config.settings import load_settings
from akg_agents.errors import TaskError
from akg_agents.records import Candidate, RunConfig, Task
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.store.rundir import RunStore
from akg_agents.store.saved_settings import save_settings
from akg_agents.tasks.scale import with_sizes
from akg_agents.workflows.base import SilentReporter
from akg_agents.workflows.runner import execute, make_evaluator, prepare_task

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ("default", "evolve", "adaptive_search")


def run_one(task: Task, workflow: str, args: argparse.Namespace, evaluator: Any) -> dict[str, Any]:
    """One run on a prepared task (scaled already): its own log folder, so its own kernel database."""
    config = RunConfig("torch", "cpu", os.uname().machine, "cpp", workflow, "builtin", max_candidates=args.budget,
                       threads=args.threads, scale_budget_ms=args.scale_budget_ms)
    log_dir = args.out / "runs" / workflow / task.name
    shutil.rmtree(log_dir, ignore_errors=True)  # a killed earlier attempt's kernel database must not seed this run
    settings = load_settings("cpp", {"log_dir": str(log_dir)})
    store = RunStore.create(settings.log_dir, config, task)
    save_settings(store.root, settings)
    started = time.monotonic()
    try:
        execute(task, config, settings, store=store, evaluator=evaluator)
    except TaskError as error:
        return {"task": task.name, "workflow": workflow, "status": "error", "reason": str(error)[:200]}
    row = result_row(store.root, task.name, workflow, time.monotonic() - started)
    row["explored"] = [c.params for c, _ in RunStore.open(store.root).results.values() if c.params]
    return row


def prepare(task: Task, args: argparse.Namespace, evaluator: Evaluator, prep_file: Path) -> Task:
    """The task at the sizes every workflow's run uses: scaled once, the sizes kept in prep.jsonl."""
    known = [json.loads(line) for line in prep_file.read_text().splitlines()] if prep_file.exists() else []
    sizes = next((p["sizes"] for p in known if p["task"] == task.name and p["digest"] == task.digest), None)
    if sizes is not None:
        return with_sizes(task, sizes) if sizes else task
    probe = RunConfig("torch", "cpu", os.uname().machine, "cpp", "default", "builtin", threads=args.threads,
                      scale_budget_ms=args.scale_budget_ms)
    scaled, info = prepare_task(task, probe, evaluator, SilentReporter())
    with open(prep_file, "a") as handle:
        handle.write(json.dumps({"task": task.name, "digest": task.digest, "sizes": dict(scaled.sizes),
                                 "eager_ms": info.eager_ms}) + "\n")
    return scaled


def retime(task: Task, runs: dict[str, dict[str, Any]], rounds: int, evaluator: Evaluator) -> dict[str, Any]:
    """Each workflow's best kernel and eager, re-timed side by side `rounds` times in one process
    (the order rotated every race); a kernel two workflows share is timed once and counts for both."""
    kernels: dict[str, Candidate] = {}  # candidate digest -> candidate
    owner: dict[str, str] = {}  # workflow -> digest of its best kernel
    names: dict[str, str] = {}  # workflow -> its best kernel's id in its own run
    for workflow, row in runs.items():
        best = RunStore.open(row["run_dir"]).best() if row.get("run_dir") and row.get("speedup") else None
        if best is not None:
            kernels.setdefault(best[0].digest, best[0])
            owner[workflow], names[workflow] = best[0].digest, best[0].id
    if not kernels:
        return {"task": task.name, "status": "no kernel"}
    if "default" in owner:  # a second copy of the default's kernel: how far apart the same code times
        kernels["control"] = replace(kernels[owner["default"]], id="control")
        owner["control"], names["control"] = "control", "control"
    order = list(kernels)
    speedups: dict[str, list[float]] = {d: [] for d in order}
    messages = []
    for race in range(rounds):
        shift = race % len(order)
        lineup = order[shift:] + order[:shift]
        outcome = evaluator.race(task, [kernels[d] for d in lineup])
        if not outcome.timings:
            messages.append(outcome.message[:200])
            continue
        for digest, profile in zip(lineup, outcome.timings, strict=True):
            speedups[digest].append(profile.speedup)
    medians = {w: statistics.median(speedups[d]) for w, d in owner.items() if speedups[d]}
    return {"task": task.name, "status": "ok" if medians else "failed", "rounds": rounds, "kernels": len(order),
            "best_of": names, "same_as": {w: kernels[d].id for w, d in owner.items()},
            "speedups": {w: [round(x, 4) for x in speedups[d]] for w, d in owner.items()},
            "median": medians, "messages": messages}


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
            results_file: Path, retimed: list[dict[str, Any]]) -> None:
    """Every (task, workflow) run not in results.jsonl yet; one warm evaluator for all of them."""
    done = {(r["task"], r["workflow"]) for r in rows}
    probe = RunConfig("torch", "cpu", os.uname().machine, "cpp", "default", "builtin", threads=args.threads)
    evaluator = make_evaluator(probe, load_settings("cpp"))
    builtin_search.SPACE_CACHE = {}  # the three runs of a task trace its Model once per count
    lazy_space.memo_on()  # and the searches make each point of its space once
    try:
        for index, original in enumerate(tasks):
            order = workflows[index % len(workflows):] + workflows[: index % len(workflows)]
            missing = [w for w in order if (original.name, w) not in done]
            if not missing and (not args.retime or any(r["task"] == original.name for r in retimed)):
                continue
            try:
                task = prepare(original, args, evaluator, args.out / "prep.jsonl")
            except TaskError as error:
                print(f"{original.name:22s} not prepared: {error}", flush=True)
                continue
            for workflow in missing:
                row = run_one(task, workflow, args, evaluator)
                row["task"] = original.name
                rows.append(row)
                with open(results_file, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{original.name:22s} {workflow:16s} {row['status']:10s} "
                      f"{(row.get('speedup') or 0):6.2f}x  {row.get('candidates', 0)} evaluated", flush=True)
            if args.retime and not any(r["task"] == original.name for r in retimed):
                runs = {r["workflow"]: r for r in rows if r["task"] == original.name}
                record = retime(task, runs, args.retime, evaluator)
                record["task"] = original.name
                retimed.append(record)
                with open(args.out / "retime.jsonl", "a") as handle:
                    handle.write(json.dumps(record) + "\n")
                print(f"{original.name:22s} re-timed side by side: "
                      + ", ".join(f"{w} {m:.2f}x" for w, m in record.get("median", {}).items()), flush=True)
    finally:
        evaluator.close()


def summarize_retimed(retimed: list[dict[str, Any]], rows: list[dict[str, Any]],
                      workflows: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    lines = ["## Each workflow's best kernel re-timed side by side (median of the races)", "",
             f"| task | {' | '.join(workflows)} | kernels raced | races |", "|---|" + "---|" * (len(workflows) + 2)]
    common: dict[str, list[float]] = {w: [] for w in workflows}
    for record in retimed:
        medians = record.get("median", {})
        cells = [f"{medians[w]:.2f}x ({record['best_of'][w]})" if w in medians else "-" for w in workflows]
        lines.append(f"| {record['task']} | {' | '.join(cells)} | {record.get('kernels', 0)} | "
                     f"{len(next(iter(record.get('speedups', {}).values()), []))} |")
        if all(w in medians for w in workflows):
            for w in workflows:
                common[w].append(medians[w])
    means = {w: geomean(v) for w, v in common.items()}
    count = len(common[workflows[0]])
    base = means.get("default")
    lines += ["", f"Geometric mean over the {count} task(s) where every workflow has a kernel:", ""]
    ratios: dict[str, float] = {}
    for w in workflows:
        mean = means[w]
        if mean is not None and base and w != "default":
            ratios[w] = mean / base
        lines.append(f"- {w}: {mean:.3f}x" + (f" ({ratios[w]:.3f}x the default's)" if w in ratios else "")
                     if mean is not None else f"- {w}: -")
    paired = paired_ratios(retimed, workflows)
    if paired:
        lines += ["", "Paired: in every race, the workflow's kernel speedup divided by the default's kernel speedup "
                  "(same race, same moment); per task the median over the races, then the geometric mean over tasks:",
                  "", f"| task | {' | '.join(w for w in (*workflows, 'control') if w != 'default')} |",
                  "|---|" + "---|" * len(workflows)]
        for task, per in paired["tasks"].items():
            cells = [f"{per[w]:.3f}" if w in per else "-" for w in (*workflows, "control") if w != "default"]
            lines.append(f"| {task} | {' | '.join(cells)} |")
        lines += [""] + [f"- {w}: {v:.3f}x the default's (paired, over {paired['count'][w]} task(s))"
                         for w, v in paired["geomean"].items()]
        if "control" in paired["geomean"]:
            lines += ["", "control: the default's own kernel raced a second time under another name; its paired "
                      "ratio is what the same code measures against itself (1.000 is no noise); per task the spread "
                      "of the races is in retime.jsonl."]
    lines += ["", "## Parameter values each workflow evaluated", ""]
    for task in dict.fromkeys(r["task"] for r in rows):
        for w in workflows:
            run = next((r for r in rows if r["task"] == task and r["workflow"] == w), None)
            if run and run.get("explored"):
                values: dict[str, set[str]] = {}
                for params in run["explored"]:
                    for name, value in params.items():
                        values.setdefault(name, set()).add(str(value))
                text = "; ".join(f"{n} {{{', '.join(sorted(v))}}}" for n, v in sorted(values.items()) if len(v) > 1 or n != "threads")
                lines.append(f"- {task} {w}: {text}")
    return "\n".join(lines) + "\n", {"tasks": count, "geomean": means, "ratio_vs_default": ratios,
                                     "paired": paired}


def paired_ratios(retimed: list[dict[str, Any]], workflows: tuple[str, ...]) -> dict[str, Any]:
    """Per task and workflow, the median over races of (its kernel's speedup / the default's)."""
    tasks: dict[str, dict[str, float]] = {}
    for record in retimed:
        speedups = record.get("speedups", {})
        base = speedups.get("default", [])
        per = {}
        for w in (*workflows, "control"):
            mine = speedups.get(w, [])
            if w != "default" and base and len(mine) == len(base):
                per[w] = statistics.median(m / b for m, b in zip(mine, base, strict=True))
        if per:
            tasks[record["task"]] = per
    if not tasks:
        return {}
    others = [w for w in (*workflows, "control") if w != "default"]
    values = {w: [per[w] for per in tasks.values() if w in per] for w in others}
    return {"tasks": tasks, "geomean": {w: geomean(v) for w, v in values.items() if v},
            "count": {w: len(v) for w, v in values.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="cpu_small")
    parser.add_argument("--problems", default=None, help="e.g. 1-13 (the leading number of each file)")
    parser.add_argument("--budget", type=int, default=6, help="evaluations per run (--max-candidates)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--scale-budget-ms", type=float, default=5.0)
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "search")
    parser.add_argument("--retime", type=int, default=0, help="races re-timing the workflows' best kernels together")
    parser.add_argument("--summarize-only", action="store_true", help="only rewrite the summary from results.jsonl")
    args = parser.parse_args()
    workflows = tuple(args.workflows.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    _, tasks = load_suite(args.suite, problems=args.problems)
    results_file = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results_file.read_text().splitlines()] if results_file.exists() else []
    retime_file = args.out / "retime.jsonl"
    retimed = [json.loads(line) for line in retime_file.read_text().splitlines()] if retime_file.exists() else []
    if not args.summarize_only:
        run_all(tasks, workflows, args, rows, results_file, retimed)
    markdown, data = summarize(rows, workflows, args.budget)
    if retimed:
        more, data["retimed"] = summarize_retimed(retimed, rows, workflows)
        markdown += "\n" + more
    (args.out / "summary.md").write_text(f"# Search workflows, built-in generator, suite {args.suite}\n\n{markdown}")
    (args.out / "summary.json").write_text(json.dumps(data, indent=2))
    print(markdown)


if __name__ == "__main__":
    main()
