"""Headroom of the built-in search space: can any search beat the default workflow on this suite?

The default workflow with --max-candidates B evaluates the generator's first B distinct kernels
(its order: the default parameters first) and keeps the fastest. A search under the same budget
can only win by finding a kernel outside those B that is faster. For every task this measures:

    space      the number of points of the built-in space (lazy_space.open_space, as the searches see it)
    default    the B kernels the default workflow evaluates (isolated.generate_isolated(task, cpp, B))
    explored   the whole space when it has at most --cap points; else the default's B plus a seeded
               random sample of the other points (cap - B of them)

Stage 1 evaluates every explored kernel once (verified and profiled, as a workflow does): D is the
fastest of the default's B, W the fastest of the others. Picking the maximum of many noisy
timings favours W (more draws), so stage 2 re-times D, W and a second copy of D ("control") side
by side in --races races (one process, same fresh inputs, order rotated): the headroom is the
median over races of speedup(W) / speedup(D), and the control's ratio is the noise of the same
code against itself.

    python benchmarks/search_headroom.py --budget 6 --cap 32 --races 7 --out benchmarks/results/search/headroom
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import search_workflows

from akg_agents.bench.suite import load_suite
from akg_agents.builtin.lower import NotCovered
from akg_agents.config.settings import load_settings
from akg_agents.errors import TaskError
from akg_agents.records import Candidate, RunConfig, Task
from akg_agents.store.kernel_db import normalized_digest
from akg_agents.tasks import isolated
from akg_agents.workflows import lazy_space
from akg_agents.workflows.runner import make_evaluator
from akg_agents.workflows.search_run import SPACE_LIMIT


def explored_points(space: lazy_space.Space, defaults: list[Candidate], cap: int, seed: int) -> list[int]:
    """Indices of the points to evaluate besides the default's: all when the space is small, else a sample."""
    default_params = [c.params for c in defaults]
    others = [i for i, p in enumerate(space.points) if p not in default_params]
    if len(space) <= cap:
        return others
    return sorted(random.Random(seed).sample(others, min(len(others), cap - len(defaults))))


def measure_task(task: Task, args: argparse.Namespace, evaluator: Any) -> dict[str, Any]:
    started = time.monotonic()
    try:
        space = lazy_space.open_space(task, "cpp", SPACE_LIMIT, args.threads)
    except NotCovered as why:
        return {"task": task.name, "status": "declined", "reason": str(why)[:200]}
    try:
        defaults = isolated.generate_isolated(task, "cpp", args.budget, args.threads)
        chosen = explored_points(space, defaults, args.cap, args.seed)
        seen = {normalized_digest(c.code) for c in defaults}
        others: list[Candidate] = []
        for index in chosen:
            made = space.candidate(index)
            if made is not None and normalized_digest(made.code) not in seen:
                seen.add(normalized_digest(made.code))
                others.append(replace(made, id=f"pt-{index}"))
        declined = len(space.declined)
    finally:
        space.close()
    generated_s = time.monotonic() - started
    own: dict[str, float] = {}
    failures: dict[str, str] = {}
    for candidate in [*defaults, *others]:
        result = asyncio.run(evaluator.evaluate(task, candidate, True))
        if result.ok and result.profile is not None and result.profile.counted:
            own[candidate.id] = result.profile.speedup
        else:
            failures[candidate.id] = f"{result.status.value}: {result.message[:80]}"
    row: dict[str, Any] = {
        "task": task.name, "status": "ok", "space": len(space), "default_evaluated": len(defaults),
        "explored_others": len(others), "declined_points": declined, "whole_space": len(space) <= args.cap,
        "generate_s": round(generated_s, 1), "own_speedups": {k: round(v, 4) for k, v in own.items()},
        "failures": failures, "params": {c.id: c.params for c in [*defaults, *others]}}
    passed_defaults = [c for c in defaults if c.id in own]
    passed_others = [c for c in others if c.id in own]
    if not passed_defaults:
        row["status"] = "default has no verified kernel"
        return row
    best_default = max(passed_defaults, key=lambda c: own[c.id])
    row["default_pick"] = best_default.id
    row["default_pick_own"] = own[best_default.id]
    if not passed_others:
        row["headroom_own"] = 1.0
        row["note"] = "no verified kernel outside the default's budget"
        return row
    best_other = max(passed_others, key=lambda c: own[c.id])
    row["other_pick"] = best_other.id
    row["other_pick_own"] = own[best_other.id]
    row["headroom_own"] = own[best_other.id] / own[best_default.id]
    row.update(race(task, best_default, best_other, args.races, evaluator))
    return row


def race(task: Task, default: Candidate, other: Candidate, rounds: int, evaluator: Any) -> dict[str, Any]:
    """D, W and a copy of D re-timed side by side; paired ratios per race, medians over races."""
    lineup = [default, other, replace(default, id="control")]
    speeds: dict[str, list[float]] = {c.id: [] for c in lineup}
    messages = []
    for index in range(rounds):
        shift = index % len(lineup)
        order = lineup[shift:] + lineup[:shift]
        outcome = evaluator.race(task, order)
        if not outcome.timings:
            messages.append(outcome.message[:200])
            continue
        for candidate, profile in zip(order, outcome.timings, strict=True):
            speeds[candidate.id].append(profile.speedup)
    base = speeds[default.id]
    if not base:
        return {"race_status": "failed", "race_messages": messages}
    return {"race_status": "ok", "races": len(base), "race_speedups": {k: [round(x, 4) for x in v] for k, v in speeds.items()},
            "headroom": statistics.median(w / d for w, d in zip(speeds[other.id], base, strict=True)),
            "control": statistics.median(c / d for c, d in zip(speeds["control"], base, strict=True)),
            "race_messages": messages}


def summarize(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = [f"# Headroom of the built-in space (suite {args.suite}, budget {args.budget}, cap {args.cap})", "",
             "| task | space | default evaluates | explored others | whole space? | default's pick (own) | "
             "best other (own) | own ratio | raced W/D (median) | control D'/D |", "|---|" + "---|" * 9]
    ratios, controls = [], []
    for r in rows:
        if r["status"] != "ok":
            lines.append(f"| {r['task']} | {r.get('space', '-')} | - | - | - | {r['status']} | - | - | - | - |")
            continue
        head = r.get("headroom")
        ratios.append(head if head is not None else 1.0)
        if r.get("control") is not None:
            controls.append(r["control"])
        lines.append(
            f"| {r['task']} | {r['space']} | {r['default_evaluated']} | {r['explored_others']} | "
            f"{'yes' if r['whole_space'] else 'sample'} | {r['default_pick']} {r['default_pick_own']:.2f}x | "
            + (f"{r['other_pick']} {r['other_pick_own']:.2f}x | {r['headroom_own']:.3f} | " if "other_pick" in r else "- | 1.000 | ")
            + (f"{head:.3f} | {r['control']:.3f} |" if head is not None else "- (nothing outside the budget) | - |"))
    mean = search_workflows.geomean(ratios)
    control = search_workflows.geomean(controls)
    ceiling = search_workflows.geomean([max(1.0, r) for r in ratios])
    ok = [r for r in rows if r["status"] == "ok"]
    closed = [r["task"] for r in ok if r["space"] <= args.budget]
    lines += ["", f"Geometric mean of the raced W/D over {len(ratios)} task(s) (1.0 where nothing outside the "
              f"default's budget verified): {mean:.3f}" if mean else ""]
    if control:
        lines.append(f"Geometric mean of the control (the default's pick against itself): {control:.3f}")
    if ceiling and ok:
        rest = len(ok) - len(closed)
        need = 1.15 ** (len(ok) / rest) if rest else float("inf")
        lines += ["", f"Ceiling of any search with this budget (an oracle that evaluates W whenever it beats D, "
                  f"max(1, W/D) per task): geomean {ceiling:.3f} over {len(ok)} task(s).",
                  f"{len(closed)} of {len(ok)} task(s) have a whole space of at most {args.budget} kernels, which the "
                  f"default evaluates entirely ({', '.join(closed)}): no search can beat it there. For a geomean "
                  f"of 1.15 over all {len(ok)}, the other {rest} would need a geomean of {need:.3f} each."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", default="cpu_small")
    parser.add_argument("--problems", default=None)
    parser.add_argument("--budget", type=int, default=6)
    parser.add_argument("--cap", type=int, default=32, help="explore the whole space up to this many points, else a sample")
    parser.add_argument("--races", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--scale-budget-ms", type=float, default=5.0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--summarize-only", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    if not args.summarize_only:
        _, tasks = load_suite(args.suite, problems=args.problems)
        probe = RunConfig("torch", "cpu", os.uname().machine, "cpp", "default", "builtin", threads=args.threads)
        evaluator = make_evaluator(probe, load_settings("cpp"))
        lazy_space.memo_on()
        try:
            for original in tasks:
                if any(r["task"] == original.name for r in rows):
                    continue
                try:
                    task = search_workflows.prepare(original, args, evaluator, args.out / "prep.jsonl")
                    row = measure_task(task, args, evaluator)
                except TaskError as error:
                    row = {"task": original.name, "status": "error", "reason": str(error)[:200]}
                row["task"] = original.name
                row["load_1min"] = round(os.getloadavg()[0], 2)
                rows.append(row)
                with open(results, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(json.dumps({k: row.get(k) for k in ("task", "status", "space", "explored_others", "headroom_own",
                                                          "headroom", "control")}), flush=True)
        finally:
            evaluator.close()
    text = summarize(rows, args)
    (args.out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
