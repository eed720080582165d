"""One run, start to finish: task -> (scaled) -> validated -> workflow -> best kernel exported.

Shared by `akg_cli op`, `akg_cli resume` and `akg_cli bench`. Progress goes to a Reporter; the
outcome comes back as a RunOutcome, and everything is also on disk in the run directory.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path

from akg_agents.builtin.lower import NotCovered
from akg_agents.config.settings import Settings
from akg_agents.dsl import get_backend, get_plugin
from akg_agents.errors import TaskError, ToolchainError
from akg_agents.records import Candidate, EvalResult, RunConfig, Task
from akg_agents.runtime.deferred import record_parked
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.runtime.parked import RunParked
from akg_agents.store.rundir import RunStore
from akg_agents.store.saved_settings import save_settings, saved_settings
from akg_agents.tasks.scale import shrink, shrink_while
from akg_agents.verify.evaluate import ReferenceInfo, VerifySettings
from akg_agents.workflows import get_workflow
from akg_agents.workflows.base import Reporter, RunContext, SilentReporter


@dataclass
class RunOutcome:
    store: RunStore
    task: Task
    reference: ReferenceInfo
    best: tuple[Candidate, EvalResult] | None
    exported: Path | None
    declined: str | None = None  # why the built-in generator did not cover the task


def verify_settings(config: RunConfig) -> VerifySettings:
    return VerifySettings(
        seeds=tuple(config.seeds), device=get_plugin(config.dsl).device_type, threads=config.threads, timeout_s=config.verify_timeout_s,
        memory_mb=config.memory_limit_mb, warmup_times=config.warmup_times, run_times=config.run_times,
        baseline_compile=config.baseline == "compile", precision=config.precision, allow_tf32=config.allow_tf32,
    )


def make_evaluator(config: RunConfig, settings: Settings) -> Evaluator:
    if config.defer_dir or settings.ray_address:  # bundles for another host, or a Ray cluster's devices
        from akg_agents.runtime.remote import remote_evaluator

        return remote_evaluator(config, settings, verify_settings(config))
    plugin = get_plugin(config.dsl)
    problem = plugin.toolchain_problem()
    if problem:
        raise ToolchainError(problem)
    backend = get_backend(plugin.backend)
    devices = ["cpu"] if backend.single_device else [str(d) for d in config.devices]
    return Evaluator(DevicePool(devices, settings.resolved_cache_dir(), verify_settings(config), backend=backend.name))


def prepare_task(task: Task, config: RunConfig, evaluator: Evaluator, reporter: Reporter) -> tuple[Task, ReferenceInfo]:
    """Check the task fits (a dry run on the meta device, before anything runs at full size),
    shrinking it when a budget is given; validate it in the referee; shrink to the time budget."""
    problem = evaluator.fit_problem(task)
    if problem and config.scale_budget_ms:
        task = shrink_while(task, lambda t: evaluator.fit_problem(t) is not None)
        reporter.info(f"task '{task.name}' {problem}; sizes halved to fit: {', '.join(f'{k}={v}' for k, v in task.sizes.items())}")
    elif problem:
        raise TaskError(f"task '{task.name}' {problem}", hint="shrink it with --scale-budget-ms MS (sizes halved until it fits and runs within MS)")
    if config.scale_budget_ms:
        eager_ms = evaluator.quick_eager_ms(task)
        if eager_ms > config.scale_budget_ms:
            reporter.info(f"eager reference takes {eager_ms:.1f} ms; scaling sizes to fit {config.scale_budget_ms:g} ms")
            task, _ = shrink(task, evaluator.quick_eager_ms, config.scale_budget_ms)
    return task, evaluator.reference(task)


def execute(
    task: Task,
    config: RunConfig,
    settings: Settings,
    reporter: Reporter | None = None,
    kernel_path: str | None = None,
    store: RunStore | None = None,
    evaluator: Evaluator | None = None,
) -> RunOutcome:
    """`evaluator`: a warm one to reuse (a bench keeps one per device across tasks); it is then
    left open. Without one, a new evaluator is made and closed."""
    reporter = reporter or SilentReporter()
    workflow = get_workflow(config.workflow)
    owned = evaluator is None
    evaluator = evaluator or make_evaluator(config, settings)
    try:
        if store is None:
            task, info = prepare_task(task, config, evaluator, reporter)
            store = RunStore.create(settings.log_dir, config, task)
            save_settings(store.root, settings)  # `resume` continues with this tree, not today's environment
        else:
            info = evaluator.reference(task)
        reporter.run_dir(store.root)  # an interrupted command can now name the directory to resume
        store.event("task_validated", inputs=info.input_shapes, outputs=info.output_shapes, eager_ms=info.eager_ms, sizes=task.sizes)
        reporter.info(_describe_task(task, info))
        ctx = RunContext(task, config, store, evaluator, reporter, kernel_path, settings=settings)
        declined = None
        try:
            _run_workflow(workflow, ctx)
        except NotCovered as reason:
            declined = str(reason)
            store.event("declined", reason=declined)
        race_finalists(store, task, evaluator, reporter)
        return finish(store, task, info, config, declined)
    except RunParked as parked:  # deferred evaluation: jobs were written as bundles; `resume` continues
        if store is None:  # parked while preparing the task: the run directory is made now
            store = RunStore.create(settings.log_dir, config, task)
            save_settings(store.root, settings)
        record_parked(store, parked)
        raise
    finally:
        if owned:
            evaluator.close()


def _run_workflow(workflow: Callable[[RunContext], Awaitable[None]], ctx: RunContext) -> None:
    """asyncio.run, except that a Ctrl-C landing inside the workflow's task is taken from the task
    before it propagates: otherwise asyncio prints "Task exception was never retrieved" with a
    traceback at exit, after the CLI's one-line "interrupted" message."""
    loop = asyncio.new_event_loop()
    task = loop.create_task(_awaiting(workflow(ctx)))
    try:
        loop.run_until_complete(task)
    except BaseException:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the exception propagates from here, once
        raise
    finally:
        leftovers = list(asyncio.all_tasks(loop))
        for pending in leftovers:
            pending.cancel()
        # Let the cancelled tasks finish before the loop closes: a task destroyed while pending
        # prints "Task was destroyed but it is pending!" later, in the middle of whatever runs next
        # (the next step of an interactive session).
        try:
            if leftovers:
                loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:  # a second Ctrl-C while cleaning up: close anyway
            pass
        loop.close()


async def _awaiting(work: Awaitable[None]) -> None:
    await work


FINALISTS = 3


def race_finalists(store: RunStore, task: Task, evaluator: Evaluator, reporter: Reporter) -> None:
    """Before a winner is declared, the fastest few (by their own time) are re-timed side by side
    against eager on the same fresh inputs; their speedups come from that one measurement. A
    finalist that breaks a rule or gives a wrong output there is disqualified and never wins."""
    store.clear_race()
    finalists, disqualified = store.finalists(FINALISTS), []
    while finalists:
        outcome = evaluator.race(task, finalists)
        if outcome.failed is not None and outcome.failed < len(finalists):
            loser = finalists.pop(outcome.failed)
            disqualified.append(loser.id)
            store.event("disqualified", candidate=loser.id, reason=outcome.message)
            reporter.info(f"finalist {loser.id} disqualified while re-timed: {outcome.message}")
            continue
        if not outcome.timings:
            store.event("race_failed", reason=outcome.message)
            reporter.info(f"re-timing the finalists failed ({outcome.message}); the best is chosen from their own runs")
            break
        own = {c.id: r.profile for c, r in ((c, store.result_of(c)) for c in finalists) if r is not None and r.profile}
        # A finalist flagged below the roofline in its own run stays flagged (never counted).
        timings = {c.id: replace(p, below_floor=p.below_floor or bool(own.get(c.id) and own[c.id].below_floor))
                   for c, p in zip(finalists, outcome.timings, strict=True)}
        store.record_race(timings, disqualified)
        ranked = sorted(timings.items(), key=lambda kv: kv[1].candidate.median_ms)
        spread = ", ".join(f"{cid} {p.candidate.median_ms:.4g} ms (+-{p.candidate.spread_ms / 2:.2g})" for cid, p in ranked)
        reporter.info(f"finalists re-timed side by side: {spread}; eager {outcome.timings[0].eager.median_ms:.4g} ms")
        return
    if disqualified:
        store.record_race({}, disqualified)


def finish(store: RunStore, task: Task, info: ReferenceInfo, config: RunConfig, declined: str | None) -> RunOutcome:
    best = store.best()
    exported = None
    if best is not None:
        exported = store.export_best(get_plugin(config.dsl).export(best[0].code))
    from akg_agents.store.summary import write_summary

    write_summary(store, task, info, best, declined)
    store.set_state("finished", best=best[0].id if best else None)
    return RunOutcome(store, task, info, best, exported, declined)


def _describe_task(task: Task, info: ReferenceInfo) -> str:
    inputs = ", ".join(str(tuple(s)) for s in info.input_shapes)
    outputs = ", ".join(f"{tuple(s)} {d}" for s, d in zip(info.output_shapes, info.output_dtypes, strict=False))
    scaled = f" (scaled: {', '.join(f'{k}={v}' for k, v in task.sizes.items())})" if task.sizes else ""
    return f"task '{task.name}' validated: inputs {inputs} -> {outputs}; eager {info.eager_ms:.3f} ms{scaled}"


def resume(run_dir: str, settings: Settings, reporter: Reporter | None = None, evaluator: Evaluator | None = None) -> RunOutcome:
    store = RunStore.open(run_dir)
    config = store.config()
    task = store.task()
    kernel = None
    if config.workflow == "verifier_only":
        kernels = sorted((store.root / "candidates").glob("*.py"))
        kernel = str(kernels[0]) if kernels else None
    settings = replace_log_dir(saved_settings(store.root, settings) or settings, str(store.root.parent))
    return execute(task, config, settings, reporter, kernel_path=kernel, store=store, evaluator=evaluator)


def replace_log_dir(settings: Settings, log_dir: str) -> Settings:
    return settings.model_copy(update={"log_dir": log_dir}) if os.path.isdir(log_dir) else settings


__all__ = ["RunOutcome", "execute", "finish", "resume"]
