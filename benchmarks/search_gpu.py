"""Search workflows on a GPU: best speedup per workflow (same budget) and 1- vs 2-device throughput.

The command for a 2 x H200 machine, from the repository root (KernelBench level-1 files in
.kb/KernelBench/level1: with the device `run` tool, carry [".kb/KernelBench/level1"]; about 170 s;
nothing is fetched from the network; results land in $OUT/search_gpu):

    PYTHONPATH=src timeout -s INT -k 20 200 python benchmarks/search_gpu.py --kb .kb/KernelBench/level1 \
        --problems 23,47,8,36 --dsl triton_cuda --backend cuda --arch h200 --model builtin \
        --devices 0,1 --budget 6 --throughput-budget 10 --deadline-s 165 --out $OUT/search_gpu

Problems: 23 softmax over a wide row, 47 sum over a middle dim, 8 matmul with irregular shapes, 36
RMSNorm over a middle dim (built-in spaces 18, 18, 7, 18 at the files' sizes; 18, the transposed
matmul, has 5 candidates, fewer than the budget, and sizes the scaler cannot reach: M = 1024 * 2).
With 6 evaluations and 2 devices per run, expect about 25 s per task plus 50 s for throughput; a
task that would end after --deadline-s is skipped (recorded in the summary).

The same code paths on a CPU (bundled cpu_small tasks 5 and 13, the cpp generator, budget 3):

    python benchmarks/search_gpu.py --dry-run --out /tmp/search_gpu_dry

Two sections, run in this order (--sections picks):

throughput  One adaptive_search run (--throughput-budget candidates, convergence stop off) on one
            task (--throughput-problem, default 23: softmax, 18 built-in candidates; 0: the selected
            task with the largest built-in search space), once with --devices 0 and once with
            --devices 0,1. Each side gets its own evaluator, its own emptied caches (Triton's,
            compiled code, references) and its own kernel database; both are warmed (workers
            started, one kernel compiled per device) before the clock starts. Throughput is the
            evaluations the search made divided by the search's wall time (from the search-space
            event to the search-stop event of its run: preparation and the finalists' race are
            outside). The ratio is 2-device / 1-device.
search      For each task: default, evolve and adaptive_search, each its own run (own run folder,
            own kernel database: no workflow profits from another's evaluations) with
            --max-candidates BUDGET on all --devices. The task is prepared once (sizes halved until
            inputs plus outputs fit --max-mb and eager fits --scale-budget-ms; references and eager
            timings computed once) and the three runs share it; their order rotates from task to
            task. A run's best speedup is the one its finalists' race measured (re-timed side by
            side against eager). The geomean ratio vs default is over the tasks where all three
            verified a kernel. Then (--retime R, default 3) the three best kernels of the task are
            re-timed together R times in one race each (same fresh inputs, order rotated), which
            compares the workflows without the noise between their separate runs; the summary
            gives both, and the parameter values each workflow evaluated.

Robustness: every measurement (task preparation included) is appended to OUT/measurements.jsonl as
it finishes, and the summary (OUT/summary.md, OUT/summary.json) is rewritten after each one, so a
timeout loses nothing already measured. Run again with the same --out to continue (finished
measurements are kept, an unfinished run is redone from an empty run folder). Before each unit of
work the remaining time is checked against an estimate from the evaluations so far; a unit that
would not finish before --deadline-s is skipped and recorded as such. Caches, compiled kernels and
job folders go to --work (default /tmp/search_gpu_work), not to --out.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from search_workflows import geomean, result_row, retime, summarize, summarize_retimed  # noqa: E402

import akg_agents.workflows.builtin_search as builtin_search  # noqa: E402
import akg_agents.workflows.lazy_space as lazy_space  # noqa: E402
from akg_agents.bench.suite import load_suite  # noqa: E402
from akg_agents.builtin.lower import NotCovered  # noqa: E402
from akg_agents.config.settings import Settings, load_settings  # noqa: E402
from akg_agents.errors import AkgError, TaskError  # noqa: E402
from akg_agents.records import Candidate, RunConfig, Task  # noqa: E402
from akg_agents.runtime.evaluator import Evaluator  # noqa: E402
from akg_agents.store.rundir import RunStore  # noqa: E402
from akg_agents.store.saved_settings import save_settings  # noqa: E402
from akg_agents.tasks.scale import shrink, shrink_while, with_sizes  # noqa: E402
from akg_agents.verify.evaluate import ReferenceInfo  # noqa: E402
from akg_agents.workflows.lazy_space import Space, open_space  # noqa: E402
from akg_agents.workflows.runner import execute, make_evaluator  # noqa: E402

WORKFLOWS = ("default", "evolve", "adaptive_search")
SPACE_LIMIT = 512  # as the search workflows ask the generator (workflows/search_run.py)
RUN_OVERHEAD_S = 4.0  # per run, besides evaluations: the race, export (generation is traced once per task)
PREP_PRIOR_S = 8.0  # a task's preparation, before one was measured here
STARTUP_PRIOR_S = 12.0  # an evaluator's workers starting and warming, before one was measured here


class Clock:
    def __init__(self, deadline_s: float, prior_eval_s: float) -> None:
        self.start = time.monotonic()
        self.deadline = self.start + deadline_s
        self.eval_s = [prior_eval_s]  # seconds per evaluation on one device, as measured so far
        self.prep_s = [PREP_PRIOR_S]
        self.startup_s = [STARTUP_PRIOR_S]

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def per_eval(self) -> float:
        return statistics.median(self.eval_s[1:] or self.eval_s)

    def run_estimate(self, budget: int, width: int) -> float:
        return budget * self.per_eval() / max(width, 1) + RUN_OVERHEAD_S


class Journal:
    """measurements.jsonl: one JSON line per finished measurement, appended and flushed at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    try:
                        self.rows.append(json.loads(line))
                    except json.JSONDecodeError:  # a line cut by a kill: that measurement is redone
                        continue

    def add(self, row: dict[str, Any]) -> None:
        row = {"t": round(time.time(), 3), **row}
        self.rows.append(row)
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def find(self, kind: str, **match: Any) -> dict[str, Any] | None:
        for row in reversed(self.rows):
            if row.get("kind") == kind and all(row.get(k) == v for k, v in match.items()):
                return row
        return None


# ---------------------------------------------------------------------------------------------
# Evaluators and task preparation


def make_config(args: argparse.Namespace, workflow: str, devices: list[int], budget: int) -> RunConfig:
    return RunConfig("torch", args.backend, args.arch, args.dsl, workflow, args.model, devices=list(devices),
                     max_candidates=budget, threads=args.threads, scale_budget_ms=args.scale_budget_ms or None)


def make_settings(args: argparse.Namespace, log_dir: Path, search: dict[str, Any] | None = None,
                  cache: Path | None = None) -> Settings:
    overrides: dict[str, Any] = {"log_dir": str(log_dir), "cache_dir": str(cache or args.work / "cache")}
    if search:
        overrides["search"] = search
    return load_settings(args.dsl, overrides)


def open_evaluator(args: argparse.Namespace, devices: list[int], label: str, cache: Path | None = None) -> Evaluator:
    """A fresh evaluator whose workers compile into their own, empty Triton cache (`label`); with
    `cache`, an emptied folder, every other cache (compiled C++, references, baselines) is its own too."""
    triton_cache = args.work / "triton" / label
    shutil.rmtree(triton_cache, ignore_errors=True)
    triton_cache.mkdir(parents=True)
    os.environ["TRITON_CACHE_DIR"] = str(triton_cache)  # read by the sandboxes made now (ENV_KEEP)
    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    config = make_config(args, "default", devices, 1)
    return make_evaluator(config, make_settings(args, args.work / "probe", cache=cache))


def task_bytes(evaluator: Evaluator, task: Task) -> int:
    """Inputs plus outputs of one case, from the referee's dry run on the meta device."""
    verifier = evaluator.pool.slots[0].verifier
    reply = verifier.referee.request({"cmd": "estimate", "task_source": task.source, "device": verifier.settings.device},
                                     300.0)
    if not reply.get("ok"):
        raise TaskError(f"task '{task.name}': {reply.get('message', 'cannot be loaded')}")
    inputs = int(reply.get("input_bytes") or 0)
    return inputs + int(reply.get("output_bytes") or inputs)


def prepare(task: Task, evaluator: Evaluator, args: argparse.Namespace, journal: Journal,
            clock: Clock) -> tuple[Task, ReferenceInfo, Space] | None:
    """The task at its benchmark sizes, its reference on every device of `evaluator`, and its
    built-in search space; None when the built-in generator declines it. Sizes and space
    come from the journal when an earlier call prepared this task."""
    known = journal.find("prep", task=task.name, digest=task.digest)
    started = time.monotonic()
    if known is None:
        sized = shrink_while(task, lambda t: task_bytes(evaluator, t) > args.max_mb * 2**20)
        if evaluator.fit_problem(sized):
            sized = shrink_while(sized, lambda t: evaluator.fit_problem(t) is not None)
        if args.scale_budget_ms and evaluator.quick_eager_ms(sized) > args.scale_budget_ms:
            sized, _ = shrink(sized, evaluator.quick_eager_ms, args.scale_budget_ms)
        try:
            opened: Space | None = open_space(sized, args.dsl, SPACE_LIMIT, args.threads)
            declined = None
        except NotCovered as reason:
            opened, declined = None, str(reason)
        if opened is not None:
            opened.close()  # its points are in lazy_space's memo: the runs reuse them
        info = None if declined else evaluator.reference(sized)
        known = {"kind": "prep", "task": task.name, "digest": task.digest, "sizes": dict(sized.sizes),
                 "bytes": task_bytes(evaluator, sized), "space": len(opened) if opened else 0, "declined": declined,
                 "eager_ms": info.eager_ms if info else None, "note": opened.note if opened else "",
                 "prep_s": round(time.monotonic() - started, 1)}
        journal.add(known)
        clock.prep_s.append(known["prep_s"])
        print(f"prepared {task.name}: sizes {known['sizes']}, {known['bytes'] / 2**20:.0f} MB, eager "
              f"{(known['eager_ms'] or 0):.3f} ms, space {known['space']}{' DECLINED ' + declined if declined else ''} "
              f"({known['prep_s']} s)", flush=True)
    if known["declined"]:
        return None
    sized = with_sizes(task, known["sizes"]) if known["sizes"] else task
    info = evaluator.reference(sized)
    return sized, info, open_space(sized, args.dsl, SPACE_LIMIT, args.threads)


def last_made(space: Space) -> Candidate:
    """The last point whose code is made already (the whole space's last, or a lazy space's first)."""
    made = [space.made[i] for i in sorted(space.made) if space.made[i] is not None]
    if not made:
        raise TaskError("the built-in search space has no candidate made")
    last = made[-1]
    assert last is not None
    return last


# ---------------------------------------------------------------------------------------------
# One run


def run_workflow(task: Task, workflow: str, args: argparse.Namespace, evaluator: Evaluator, devices: list[int],
                 budget: int, log_dir: Path, search: dict[str, Any] | None = None,
                 cache: Path | None = None) -> dict[str, Any]:
    """One run of `workflow` on the prepared task, in an emptied `log_dir` (its own kernel database)."""
    shutil.rmtree(log_dir, ignore_errors=True)  # an unfinished earlier attempt must not seed this one
    config = make_config(args, workflow, devices, budget)
    settings = make_settings(args, log_dir, search, cache)
    store = RunStore.create(settings.log_dir, config, task)
    save_settings(store.root, settings)
    started = time.monotonic()
    try:
        execute(task, config, settings, store=store, evaluator=evaluator)
    except (TaskError, AkgError) as error:
        return {"task": task.name, "workflow": workflow, "status": "error", "reason": str(error)[:300],
                "wall_s": round(time.monotonic() - started, 1), "run_dir": str(store.root)}
    row = result_row(store.root, task.name, workflow, time.monotonic() - started)
    row.update(search_window(store.root))
    row["explored"] = [c.params for c, _ in RunStore.open(store.root).results.values() if c.params]
    return row


def search_window(run_dir: Path) -> dict[str, Any]:
    """Evaluations made by the run and the wall time they took: from the event that starts the
    evaluations (search_space: search workflows; generated: default) to the last result."""
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines() if line.strip()]
    start = next((e["t"] for e in events if e.get("event") in ("search_space", "generated")), None)
    stop = next((e for e in events if e.get("event") == "search_stop"), None)
    results = run_dir / "results.jsonl"
    evaluated = sum(1 for line in results.read_text().splitlines() if line.strip()) if results.exists() else 0
    if stop is not None:
        end, evaluated = stop["t"], int(stop.get("evaluations", evaluated))
    else:  # default: the last candidate's result is the last event before the race
        end = next((e["t"] for e in reversed(events) if e.get("event") not in ("race", "finished", "disqualified",
                                                                              "race_failed", "summary")), None)
    if start is None or end is None or end <= start:
        return {"evaluations": evaluated, "search_s": None, "evals_per_s": None}
    return {"evaluations": evaluated, "search_s": round(end - start, 2),
            "evals_per_s": round(evaluated / (end - start), 4) if evaluated else None,
            "stop_reason": stop.get("reason") if stop else None}


# ---------------------------------------------------------------------------------------------
# Sections


def warm(evaluator: Evaluator, task: Task, candidate: Candidate) -> None:
    """Start every device's worker and compile one kernel on it, all devices at once."""
    with concurrent.futures.ThreadPoolExecutor(len(evaluator.pool.slots)) as pool:
        list(pool.map(lambda slot: slot.verifier.evaluate(task, replace(candidate, id="warmup"), False),
                      evaluator.pool.slots))


def throughput_section(tasks: list[Task], args: argparse.Namespace, journal: Journal, clock: Clock) -> None:
    chosen = pick_throughput_task(tasks, args, journal)
    if chosen is None:
        print("throughput: no task to run it on (none prepared or covered)", flush=True)
        return
    sides = [("1", [args.devices[0]]), ("2", args.devices[:2])]
    if len(args.devices) < 2:
        print("throughput: --devices names one device; the 2-device side is run on it too", flush=True)
        sides[1] = ("2", args.devices)
    plan = [(r, s) for r in range(args.throughput_repeats) for s in (sides if r % 2 == 0 else sides[::-1])]
    search = {"converge_after": 10_000, "seed": 0}  # the budget, not convergence, ends both runs
    for repeat, (label, devices) in plan:
        if journal.find("throughput", task=chosen.name, devices=label, repeat=repeat, budget=args.throughput_budget):
            continue
        width = len(devices)
        estimate = STARTUP_PRIOR_S + clock.run_estimate(args.throughput_budget, width) + 2 * clock.per_eval()
        if clock.left() < estimate:
            journal.add({"kind": "skipped", "what": f"throughput {label} device(s) repeat {repeat}",
                         "left_s": round(clock.left(), 1), "estimate_s": round(estimate, 1)})
            print(f"throughput {label}: skipped, {clock.left():.0f} s left < {estimate:.0f} s estimated", flush=True)
            continue
        started = time.monotonic()
        # Nothing compiled or timed by the other side is reused: its own caches, emptied; nor a
        # point of a lazily made space (loop nests) that the other side generated.
        lazy_space.MADE = {}
        cache = args.work / f"cache_throughput_{label}_{repeat}"
        evaluator = open_evaluator(args, devices, f"throughput_{label}_{repeat}", cache)
        try:
            prepared = prepare(chosen, evaluator, args, journal, clock)
            if prepared is None:
                return
            task, _, space = prepared
            space.close()
            warm(evaluator, task, last_made(space))
            startup = time.monotonic() - started
            slots = evaluator.width  # the cpu backend is one device whatever --devices says
            log_dir = args.out / "runs" / "throughput" / f"{label}dev_r{repeat}"
            row = run_workflow(task, args.throughput_workflow, args, evaluator, devices, args.throughput_budget,
                               log_dir, search, cache)
        finally:
            evaluator.close()
        row.update({"kind": "throughput", "devices": label, "device_ids": devices, "slots": slots, "repeat": repeat,
                    "budget": args.throughput_budget, "startup_s": round(startup, 1)})
        journal.add(row)
        clock.startup_s.append(startup)
        if row.get("evals_per_s"):
            clock.eval_s.append(width / row["evals_per_s"])
        print(f"throughput {label} device(s) [{','.join(map(str, devices))}] {task.name}: {row.get('evaluations')} "
              f"evaluations in {row.get('search_s')} s = {row.get('evals_per_s')} /s ({row['status']})", flush=True)
        write_summary(args, journal)


def pick_throughput_task(tasks: list[Task], args: argparse.Namespace, journal: Journal) -> Task | None:
    if args.throughput_problem:
        found = [t for t in tasks if t.name.split("_", 1)[0].lstrip("0") == str(args.throughput_problem)]
        if found:
            return found[0]
        print(f"throughput: problem {args.throughput_problem} is not among the selected tasks; "
              "taking the one with the largest search space", flush=True)
    # The largest search space among tasks the journal knows; else the generator is asked now.
    best: tuple[int, Task] | None = None
    for task in tasks:
        known = journal.find("prep", task=task.name, digest=task.digest)
        if known is not None:
            size = 0 if known["declined"] else int(known["space"])
        else:
            try:
                opened = open_space(task, args.dsl, SPACE_LIMIT, args.threads)
                opened.close()
                size = len(opened)
            except NotCovered:
                size = 0
        if size and (best is None or size > best[0]):
            best = (size, task)
    return best[1] if best else None


def search_section(tasks: list[Task], args: argparse.Namespace, journal: Journal, clock: Clock) -> None:
    width = len(args.devices)
    todo = [t for t in tasks if not all(journal.find("search", task=t.name, workflow=w, budget=args.budget)
                                        for w in args.workflows)]
    if not todo:
        return
    estimate = STARTUP_PRIOR_S + clock.prep_s[-1] + len(args.workflows) * clock.run_estimate(args.budget, width)
    if clock.left() < estimate:
        journal.add({"kind": "skipped", "what": "search section", "left_s": round(clock.left(), 1),
                     "estimate_s": round(estimate, 1)})
        print(f"search: skipped, {clock.left():.0f} s left < {estimate:.0f} s estimated for one task", flush=True)
        return
    evaluator = open_evaluator(args, args.devices, "search")
    try:
        for index, original in enumerate(tasks):
            order = args.workflows[index % len(args.workflows):] + args.workflows[: index % len(args.workflows)]
            missing = [w for w in order if not journal.find("search", task=original.name, workflow=w, budget=args.budget)]
            if not missing:
                continue
            prepared_known = journal.find("prep", task=original.name, digest=original.digest) is not None
            estimate = ((0 if prepared_known else clock.prep_s[-1]) + len(missing) * clock.run_estimate(args.budget, width)
                        + args.retime * clock.per_eval())
            if clock.left() < estimate:
                journal.add({"kind": "skipped", "what": f"search {original.name}", "left_s": round(clock.left(), 1),
                             "estimate_s": round(estimate, 1)})
                print(f"search {original.name}: skipped, {clock.left():.0f} s left < {estimate:.0f} s estimated",
                      flush=True)
                continue
            try:
                prepared = prepare(original, evaluator, args, journal, clock)
            except (TaskError, AkgError) as error:
                journal.add({"kind": "prep_error", "task": original.name, "reason": str(error)[:300]})
                print(f"search {original.name}: preparation failed: {error}", flush=True)
                continue
            if prepared is None:
                for workflow in missing:
                    journal.add({"kind": "search", "task": original.name, "workflow": workflow, "budget": args.budget,
                                 "status": "declined"})
                continue
            task, _, space_made = prepared
            space_made.close()
            space = len(space_made)
            for workflow in missing:
                row = run_workflow(task, workflow, args, evaluator, args.devices, args.budget,
                                   args.out / "runs" / "search" / workflow / task.name)
                row.update({"kind": "search", "budget": args.budget, "space": space, "task": original.name})
                journal.add(row)
                if row.get("evals_per_s"):
                    clock.eval_s.append(width / row["evals_per_s"])
                print(f"search {original.name:40s} {workflow:16s} {row['status']:10s} "
                      f"{(row.get('speedup') or 0):6.3f}x  {row.get('candidates', 0)} evaluated of a space of "
                      f"{space}, {row.get('wall_s')} s", flush=True)
                write_summary(args, journal)
            retime_task(original, task, args, evaluator, journal, clock)
    finally:
        evaluator.close()


def retime_task(original: Task, task: Task, args: argparse.Namespace, evaluator: Evaluator, journal: Journal,
                clock: Clock) -> None:
    """The workflows' best kernels of this task re-timed side by side (--retime races, rotated)."""
    if not args.retime or journal.find("retime", task=original.name, budget=args.budget):
        return
    runs = {r["workflow"]: r for r in journal.rows if r.get("kind") == "search" and r.get("task") == original.name
            and r.get("budget") == args.budget}
    estimate = args.retime * 3 * clock.per_eval() / 2
    if clock.left() < estimate:
        journal.add({"kind": "skipped", "what": f"retime {original.name}", "left_s": round(clock.left(), 1),
                     "estimate_s": round(estimate, 1)})
        return
    record = retime(task, runs, args.retime, evaluator)
    record.update({"kind": "retime", "task": original.name, "budget": args.budget})
    journal.add(record)
    print(f"retime {original.name}: " + ", ".join(f"{w} {m:.3f}x" for w, m in record.get("median", {}).items())
          + f" ({record.get('kernels', 0)} distinct kernel(s), {args.retime} races)", flush=True)
    write_summary(args, journal)


# ---------------------------------------------------------------------------------------------
# Summary


def write_summary(args: argparse.Namespace, journal: Journal) -> dict[str, Any]:
    rows = [r for r in journal.rows if r.get("kind") == "search" and r.get("budget") == args.budget]
    lines = [f"# Search workflows on {args.backend}/{args.arch}, dsl {args.dsl}, model {args.model}", ""]
    data: dict[str, Any] = {"dsl": args.dsl, "backend": args.backend, "arch": args.arch, "budget": args.budget,
                            "devices": args.devices}
    if rows:
        markdown, search = summarize(rows, tuple(args.workflows), args.budget)
        lines += ["## Best speedup per workflow, same budget", "", markdown]
        preps = {r["task"]: r for r in journal.rows if r.get("kind") == "prep"}
        lines += ["Task sizes used (halved from the files' until they fit) and built-in search space:", ""]
        for name, prep in preps.items():
            lines.append(f"- {name}: {prep.get('sizes') or 'as in the file'}, {prep.get('bytes', 0) / 2**20:.0f} MB, "
                         f"eager {prep.get('eager_ms') or 0:.3f} ms, space {prep.get('space')}"
                         + (f", declined: {prep['declined']}" if prep.get("declined") else ""))
        lines.append("")
        data["search"] = search
        retimed = [r for r in journal.rows if r.get("kind") == "retime" and r.get("budget") == args.budget]
        if retimed:
            more, data["retimed"] = summarize_retimed(retimed, rows, tuple(args.workflows))
            lines += [more]
        data["search_rows"] = [{k: r.get(k) for k in ("task", "workflow", "status", "speedup", "candidates", "passed",
                                                      "space", "wall_s", "evals_per_s", "reason")} for r in rows]
    through = [r for r in journal.rows if r.get("kind") == "throughput"]
    if through:
        rates: dict[str, list[float]] = {}
        lines += ["## Evaluation throughput", "", "| devices | evaluator slots | repeat | task | evaluations | search s | "
                  "evaluations/s | status |", "|---|---|---|---|---|---|---|---|"]
        for r in through:
            lines.append(f"| {r['devices']} ({','.join(map(str, r.get('device_ids', [])))}) | {r.get('slots')} | "
                         f"{r['repeat']} | {r['task']} | {r.get('evaluations')} | {r.get('search_s')} | "
                         f"{r.get('evals_per_s')} | {r['status']} |")
            if r.get("evals_per_s"):
                rates.setdefault(r["devices"], []).append(r["evals_per_s"])
        one, two = geomean(rates.get("1", [])), geomean(rates.get("2", []))
        ratio = two / one if one and two else None
        lines += ["", f"2-device / 1-device throughput: {ratio:.3f}x" if ratio else "2-device / 1-device: not measured",
                  ""]
        if any(r.get("slots") == 1 for r in through if r["devices"] == "2"):
            lines += ["(the 2-device side had one evaluator slot here: the ratio measures noise, not scaling)", ""]
        data["throughput"] = {"evals_per_s_1": one, "evals_per_s_2": two, "ratio": ratio,
                              "rows": [{k: r.get(k) for k in ("devices", "repeat", "task", "evaluations", "search_s",
                                                              "evals_per_s", "slots", "startup_s", "status")}
                                       for r in through]}
    starts = [i for i, r in enumerate(journal.rows) if r.get("kind") == "start"]
    latest = journal.rows[starts[-1]:] if starts else journal.rows  # what the last call could not do
    skipped = [r for r in latest if r.get("kind") in ("skipped", "prep_error", "section_error")]
    if skipped:
        lines += ["## Not measured", ""] + [f"- {r.get('what') or r.get('task')}: {why_not(r)}" for r in skipped] + [""]
        data["not_measured"] = skipped
    (args.out / "summary.md").write_text("\n".join(lines))
    (args.out / "summary.json").write_text(json.dumps(data, indent=2, default=str))
    return data


def why_not(row: dict[str, Any]) -> str:
    if row.get("reason"):
        return str(row["reason"])
    return f"{row.get('left_s')} s left, {row.get('estimate_s')} s estimated"


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kb", type=Path, help="folder of task files (KernelBench/level1)")
    parser.add_argument("--problems", default="23,47,8,36", help="leading numbers of the task files, in order")
    parser.add_argument("--dsl", default="triton_cuda")
    parser.add_argument("--backend", default="cuda")
    parser.add_argument("--arch", default="h200")
    parser.add_argument("--model", default="builtin", choices=["builtin"])
    parser.add_argument("--devices", default="0,1", help="GPU numbers for the search section; throughput uses 1 and 2 of them")
    parser.add_argument("--budget", type=int, default=6, help="--max-candidates of every search-section run")
    parser.add_argument("--workflows", default=",".join(WORKFLOWS))
    parser.add_argument("--retime", type=int, default=3,
                        help="races re-timing a task's three best kernels side by side after its runs (0: off)")
    parser.add_argument("--throughput-budget", type=int, default=10)
    parser.add_argument("--throughput-problem", type=int, default=23,
                        help="0: the selected task with the largest built-in search space (asks the generator)")
    parser.add_argument("--throughput-workflow", default="adaptive_search", choices=["adaptive_search", "evolve"])
    parser.add_argument("--throughput-repeats", type=int, default=1, help="2: 1,2 then 2,1 devices")
    parser.add_argument("--sections", default="throughput,search")
    parser.add_argument("--max-mb", type=float, default=128.0, help="halve sizes until one case's inputs+outputs fit")
    parser.add_argument("--scale-budget-ms", type=float, default=2.0, help="then halve until eager fits (0: off)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--deadline-s", type=float, default=180.0, help="start no unit of work that would end later")
    parser.add_argument("--prior-eval-s", type=float, default=2.0, help="seconds per evaluation assumed until measured")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/search_gpu_work"))
    parser.add_argument("--dry-run", action="store_true",
                        help="CPU check: cpu_small tasks 5,13, cpp, budget 3, throughput budget 3")
    parser.add_argument("--summarize-only", action="store_true")
    args = parser.parse_args(argv)
    if args.dry_run:
        args.kb = args.kb or ROOT / "src" / "akg_agents" / "bench" / "suites" / "cpu_small"
        if args.problems == parser.get_default("problems"):
            args.problems = "5,13"
        if args.throughput_problem == parser.get_default("throughput_problem"):
            args.throughput_problem = 5
        args.dsl, args.backend, args.arch = "cpp", "cpu", os.uname().machine
        args.budget = min(args.budget, 3)
        args.throughput_budget = min(args.throughput_budget, 3)
        args.max_mb = min(args.max_mb, 16.0)
        args.scale_budget_ms = args.scale_budget_ms if args.scale_budget_ms != 2.0 else 5.0
        if args.deadline_s == parser.get_default("deadline_s"):
            args.deadline_s = 1800.0  # this 2-core VM is slow; a given --deadline-s is kept
    if args.kb is None:
        parser.error("--kb FOLDER is required (or --dry-run)")
    args.devices = [int(d) for d in str(args.devices).split(",") if d.strip()]
    args.workflows = [w for w in args.workflows.split(",") if w]
    args.sections = [s for s in args.sections.split(",") if s]
    for section in args.sections:
        if section not in ("throughput", "search"):
            parser.error(f"--sections: unknown section {section!r} (throughput, search)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    journal = Journal(args.out / "measurements.jsonl")
    if args.summarize_only:
        print((args.out / "summary.md").read_text() if write_summary(args, journal) else "", end="")
        return
    clock = Clock(args.deadline_s, args.prior_eval_s)
    builtin_search.SPACE_CACHE = {}  # every run on a task reuses one tracing of its Model (default workflow)
    lazy_space.memo_on()  # and the searches' space, each point made once per task
    _, loaded = load_suite(str(args.kb), problems=args.problems)
    order = [int(p) for p in args.problems.split(",") if p.strip().isdigit()]
    tasks = sorted(loaded, key=lambda t: order.index(int(t.name.split("_", 1)[0])) if t.name.split("_", 1)[0].isdigit()
                   and int(t.name.split("_", 1)[0]) in order else len(order))
    journal.add({"kind": "start", "argv": sys.argv[1:], "tasks": [t.name for t in tasks], "deadline_s": args.deadline_s})
    print(f"{len(tasks)} task(s): {', '.join(t.name for t in tasks)}; sections {', '.join(args.sections)}; "
          f"deadline {args.deadline_s:.0f} s", flush=True)
    for section in args.sections:
        try:
            (throughput_section if section == "throughput" else search_section)(tasks, args, journal, clock)
        except (AkgError, OSError, RuntimeError) as error:  # one section's failure must not lose the other's
            journal.add({"kind": "section_error", "section": section, "reason": f"{type(error).__name__}: {error}"[:500],
                         "trace": traceback.format_exc()[-2000:]})
            print(f"section {section} failed: {type(error).__name__}: {error}", flush=True)
        except KeyboardInterrupt:  # `timeout -s INT`: what was measured is in the journal already
            write_summary(args, journal)
            print(f"interrupted after {clock.elapsed():.0f} s in section {section}; {len(journal.rows)} journal line(s) "
                  f"kept in {journal.path}; the same command continues", flush=True)
            raise SystemExit(130) from None
    data = write_summary(args, journal)
    journal.add({"kind": "end", "elapsed_s": round(clock.elapsed(), 1)})
    print((args.out / "summary.md").read_text())
    ratio = data.get("throughput", {}).get("ratio")
    print(f"elapsed {clock.elapsed():.0f} s; throughput ratio {ratio}", flush=True)


if __name__ == "__main__":
    main()
