"""Run a bench: every unfinished task of the bench directory, one worker per device.

Each task is one ordinary run (workflows.runner.execute, the same as `akg_cli op`) in
`<bench>/runs/<task>/`; sizes are scaled to `config.scale_budget_ms` by the runner. A task whose run
directory was left half done by a killed bench continues through workflows.runner.resume, so the
candidates it already evaluated are not evaluated again. On the CPU there is one device (the cores
are shared), so tasks run one after another; on GPUs each device works through the queue.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from akg_agents.bench.collect import read_events, task_result
from akg_agents.bench.db import BenchDB
from akg_agents.bench.metrics import ERROR, TaskResult
from akg_agents.config.settings import Settings
from akg_agents.dsl.registry import get_backend
from akg_agents.errors import TaskError
from akg_agents.records import RunConfig, Task
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.runtime.parked import RunParked
from akg_agents.store.rundir import RunStore
from akg_agents.workflows.base import Reporter, SilentReporter
from akg_agents.workflows.runner import RunOutcome, execute, make_evaluator, resume

OnStart = Callable[[Task, str | None], None]  # task, run dir being resumed (None: fresh)
OnDone = Callable[[TaskResult], None]


def task_runs_dir(root: Path, name: str) -> Path:
    return root / "runs" / re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def latest_run_dir(folder: Path) -> Path | None:
    """The newest complete run directory of a task (config, task source and task metadata written)."""
    if not folder.is_dir():
        return None
    runs = [p for p in folder.iterdir() if all((p / f).exists() for f in ("config.yaml", "task.py", "task.json"))]
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def workers_for(config: RunConfig) -> list[int]:
    """Devices that take tasks at the same time: one on the CPU (its cores are one shared device)."""
    return [config.devices[0]] if get_backend(config.backend).single_device else list(config.devices)


def run_bench(
    db: BenchDB, config: RunConfig, settings: Settings, on_start: OnStart | None = None,
    on_done: OnDone | None = None, reporter: Reporter | None = None, stop: threading.Event | None = None,
) -> list[TaskResult]:
    """Run the unfinished tasks; when `stop` is set, no new task starts (the ones in flight finish)."""
    stop = stop or threading.Event()
    todo: queue.Queue[tuple[Task, str, str | None]] = queue.Queue()
    for item in db.unfinished():
        todo.put(item)
    devices = workers_for(config)
    runner = _TaskRunner(db, config, settings, on_start, on_done, reporter)
    try:
        results = _drain_all(runner, todo, devices, stop, db)
        if runner.parked:  # deferred: each task wrote its jobs; `bench --resume` continues them
            raise RunParked.merged(runner.parked, "")
        return results
    finally:
        runner.close()


def _drain_all(runner: _TaskRunner, todo: queue.Queue[tuple[Task, str, str | None]], devices: list[int],
               stop: threading.Event, db: BenchDB) -> list[TaskResult]:
    if len(devices) == 1:
        while not todo.empty() and not stop.is_set():
            runner.run(*todo.get(), device=devices[0])
        return db.results()
    failures: list[BaseException] = []
    threads = [threading.Thread(target=runner.drain, args=(todo, d, failures, stop), daemon=True) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)  # short joins keep Ctrl-C deliverable to the main thread
    if failures:
        raise failures[0]
    return db.results()


class _TaskRunner:
    def __init__(
        self, db: BenchDB, config: RunConfig, settings: Settings, on_start: OnStart | None, on_done: OnDone | None,
        reporter: Reporter | None,
    ) -> None:
        self.db, self.config, self.settings = db, config, settings
        self.on_start, self.on_done = on_start, on_done
        self.reporter = reporter or SilentReporter()
        # One warm evaluator (referee + sandbox) per device for the whole bench: a GPU worker's
        # start (CUDA context, imports) costs seconds that every task would pay again.
        self._evaluators: dict[int, Evaluator] = {}
        self.parked: list[RunParked] = []  # tasks waiting for deferred evaluation

    def evaluator(self, config: RunConfig, settings: Settings) -> Evaluator:
        device = config.devices[0]
        if device not in self._evaluators:
            self._evaluators[device] = make_evaluator(config, settings)
        return self._evaluators[device]

    def close(self) -> None:
        for evaluator in self._evaluators.values():
            evaluator.close()

    def drain(
        self, todo: queue.Queue[tuple[Task, str, str | None]], device: int, failures: list[BaseException],
        stop: threading.Event,
    ) -> None:
        while not failures and not stop.is_set():
            try:
                task, state, run_dir = todo.get_nowait()
            except queue.Empty:
                return
            try:
                self.run(task, state, run_dir, device)
            except BaseException as error:  # a broken system stops every worker; the bench resumes later
                failures.append(error)
                return

    def run(self, task: Task, state: str, run_dir: str | None, device: int) -> TaskResult | None:
        folder = task_runs_dir(self.db.root, task.name)
        existing = latest_run_dir(folder)
        if state == "running" and existing is not None:
            self.db.add_wall(task.name, _lost_time(existing, self.db.started_at(task.name)))
        if self.on_start:
            self.on_start(task, str(existing) if existing else None)
        self.db.mark_running(task.name)
        prior = self.db.prior_wall(task.name)
        config = replace(self.config, devices=[device])
        settings = self.settings.model_copy(update={"log_dir": str(folder)})
        started = time.monotonic()
        try:
            outcome = self._execute(task, config, settings, existing)
        except RunParked as parked:  # --defer: its jobs wait for `akg_cli evaluate`; the other tasks go on
            self.parked.append(parked)
            return None
        except TaskError as error:  # this task cannot be used; the others can
            result = TaskResult(name=task.name, status=ERROR, reason=str(error), run_dir=str(existing or ""),
                                wall_s=prior + time.monotonic() - started)
        else:
            result = task_result(outcome.store.root, task.name, wall_s=prior + time.monotonic() - started)
        self.db.mark_done(result)
        if self.on_done:
            self.on_done(result)
        return result

    def _execute(self, task: Task, config: RunConfig, settings: Settings, existing: Path | None) -> RunOutcome:
        folder = str(task_runs_dir(self.db.root, task.name))
        evaluator = self.evaluator(config, settings)
        if existing is None:
            return execute(task, config, settings, self.reporter, evaluator=evaluator)
        if RunStore.open(existing).config().devices == config.devices:
            return resume(str(existing), settings, self.reporter, evaluator=evaluator)
        store = RunStore.open(existing)  # resumed on another device than it started on
        settings = settings.model_copy(update={"log_dir": folder})
        return execute(store.task(), replace(store.config(), devices=config.devices), settings, self.reporter, store=store,
                       evaluator=evaluator)


def _lost_time(run_dir: Path, started_at: float | None) -> float:
    """Wall time an interrupted attempt spent: from its start to the last thing its run wrote."""
    if started_at is None:
        return 0.0
    written = [p.stat().st_mtime for p in (*run_dir.iterdir(), *(run_dir / "candidates").glob("*")) if p.is_file()]
    times = [float(e["t"]) for e in read_events(run_dir) if "t" in e] + written
    return max(0.0, max(times) - started_at) if times else 0.0


__all__ = ["latest_run_dir", "run_bench", "task_runs_dir", "workers_for"]
