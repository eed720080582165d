"""`akg_cli bench` and `akg_cli report`: run a suite of tasks, then turn results into tables and plots.

Mounted by cli/app.py through `register(app)`.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from akg_agents.bench.db import DB_NAME, BenchDB
from akg_agents.bench.metrics import TaskResult, compute
from akg_agents.bench.suite import load_suite
from akg_agents.bench.tables import metrics_table, summary_markdown
from akg_agents.cli import targets
from akg_agents.cli.app import console, default_arch, err_console, writable_folder
from akg_agents.cli.commands import PRECISION_HELP, TF32_HELP, build_config, require_local_toolchain
from akg_agents.cli.render import RichReporter
from akg_agents.config.settings import load_settings
from akg_agents.dsl.registry import get_backend
from akg_agents.errors import ConfigError, RunStoreError
from akg_agents.records import RunConfig, Task, to_dict
from akg_agents.runtime.parked import RunParked

CPU_SCALE_BUDGET_MS = 100.0
LOCK_NAME = "bench.lock"
_TASK_STYLE = {"correct": "green", "incorrect": "red", "declined": "dim", "error": "magenta"}


def bench(
    suite: str = typer.Argument(None, help="A folder of KernelBench-format tasks, a KernelBench checkout (with --level), or a bundled suite name (cpu_small)."),
    level: int = typer.Option(None, help="KernelBench level (1-4): runs KernelBench/levelN/*.py of the checkout."),
    problems: str = typer.Option(None, help="Problem numbers to run, e.g. 1-20,40 (the leading number of each file name)."),
    framework: str = typer.Option("torch", help="Framework of the reference models."),
    backend: str = typer.Option("cpu", help=targets.backend_help()),
    arch: str = typer.Option("", help=targets.arch_help()),
    dsl: str = typer.Option("cpp", help=targets.dsl_help()),
    workflow: str = typer.Option(None, help="Workflow for every task (default: from the DSL's settings)."),
    model: str = typer.Option(None, help="'builtin' (no LLM) or 'llm' (the configured provider)."),
    devices: str = typer.Option("0", help="Comma-separated device ids; tasks run concurrently, one per device (one on cpu)."),
    output: Path = typer.Option(None, "--output", "-o", help="Bench directory (default: akg_bench/SUITE_DSL_TIME). Re-running with the same one continues it."),
    resume_dir: Path = typer.Option(None, "--resume", help="Continue the interrupted bench in this directory (its own settings)."),
    max_candidates: int = typer.Option(4, help="Candidates per task."),
    baseline: str = typer.Option("eager", help="eager, or compile (time torch.compile too; metrics against both)."),
    threads: int = typer.Option(None, help="CPU threads for kernels and eager PyTorch (default: all cores)."),
    scale_budget_ms: float = typer.Option(None, help=f"Shrink each task's sizes until eager runs within this many ms (default {CPU_SCALE_BUDGET_MS:g} on cpu, off elsewhere; 0: off)."),
    precision: str = typer.Option("fp32", help=PRECISION_HELP),
    allow_tf32: bool = typer.Option(False, "--allow-tf32", help=TF32_HELP),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every candidate, not one line per task."),
    defer: Path = typer.Option(None, "--defer", metavar="DIR", help="Write every evaluation job as a bundle into DIR and park the bench; `akg_cli evaluate DIR` where the device is, then `akg_cli bench --resume BENCH_DIR`."),
    ray_address: str = typer.Option(None, "--ray-address", metavar="ADDR", help="Evaluate each task's candidates on a Ray cluster's devices (tasks run one at a time; needs akg_agents[ray])."),
) -> None:
    """Run every task of SUITE; report correctness, fast_p and geometric-mean speedup.

    Results stream into BENCH_DIR/bench.db and results.jsonl as tasks finish; a killed bench
    continues with `akg_cli bench --resume BENCH_DIR`, without losing or repeating a task.

        akg_cli bench cpu_small --backend cpu --dsl cpp --model builtin
        akg_cli bench ~/KernelBench --level 1 --problems 1-20,40 --backend cuda --dsl triton_cuda --devices 0,1
    """
    if resume_dir is not None:
        if suite is not None:
            raise ConfigError("pass either SUITE or --resume BENCH_DIR, not both")
        if not BenchDB.exists(resume_dir):
            raise RunStoreError(f"{resume_dir} is not a bench directory (no {DB_NAME})")
        writable_folder(resume_dir, "bench directory", "resume it as a user who can write there")
        with bench_lock(resume_dir):
            db = BenchDB.open(resume_dir)
            try:
                _run(db, resume_dir, db.config(), verbose, {"ray_address": ray_address} if ray_address else None)
            finally:
                db.close()
        return
    if suite is None:
        raise ConfigError("missing SUITE: a task folder, a KernelBench checkout or a bundled suite name (cpu_small)")
    settings = load_settings(dsl)
    if defer is not None and scale_budget_ms is None:
        scale_budget_ms = 0.0  # timing a task needs the device: a deferred bench runs tasks at their sizes
    if scale_budget_ms is None:
        # Kernels on host memory (the CPU) are slow at KernelBench sizes: shrink tasks by default.
        scale_budget_ms = CPU_SCALE_BUDGET_MS if get_backend(backend).host_memory else 0.0
    config = build_config(settings, framework, backend, arch or default_arch(backend), dsl, workflow, model, devices,
                          baseline, max_candidates, threads, scale_budget_ms or None, precision, allow_tf32)
    from akg_agents.cli.commands import scale_out

    config, settings = scale_out(config, settings, defer, ray_address)
    require_local_toolchain(config, settings)
    folder, tasks = load_suite(suite, level, problems)
    root = output or Path("akg_bench") / f"{folder.name}_{dsl}_{time.strftime('%Y%m%d-%H%M%S')}"
    writable_folder(root, "bench directory", "choose a writable one with -o DIR (or run from a folder you can write to)")
    with bench_lock(root):
        db = BenchDB.create_or_continue(root, config, str(folder), tasks)
        try:
            _run(db, root, config, verbose, {"ray_address": ray_address} if ray_address else None)
        finally:
            db.close()


@contextmanager
def bench_lock(root: Path) -> Iterator[None]:
    """One bench at a time per directory: a second one would evaluate the same tasks, append
    duplicate rows and time its kernels against the first's. An flock on BENCH_DIR/bench.lock is
    held while the bench runs; the kernel drops it when the process ends however it ends (a killed
    bench leaves no stale lock), and the workers it starts do not inherit it (close-on-exec)."""
    fd = os.open(root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise ConfigError(f"another akg_cli bench is running in {root}" + (f" (pid {holder})" if holder.isdigit() else ""),
                              hint="wait for it to finish (or stop it), or choose another -o DIR") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def _run(db: BenchDB, root: Path, config: RunConfig, verbose: bool, overrides: dict[str, Any] | None = None) -> None:
    from akg_agents.bench.run import run_bench

    settings = load_settings(config.dsl, overrides)
    pending = db.unfinished()
    total = db.counts()["tasks"]
    done = total - len(pending)
    console.print(f"[bold]akg_agents[/] bench {root}: {total} task(s), {done} already done; {config.backend}/{config.arch}, "
                  f"dsl {config.dsl}, workflow {config.workflow}, model {config.model}"
                  + (f", scale budget {config.scale_budget_ms:g} ms" if config.scale_budget_ms else ""))
    progress = {"done": done}
    reporter = RichReporter(console, quiet=not verbose, progress_after_s=settings.progress_after_s)

    def on_start(task: Task, resumed: str | None) -> None:
        if resumed:
            console.print(f"  [cyan]resuming[/] {task.name} from {resumed}")
        reporter.step("preparing the task (sandbox, reference outputs, eager timing)", context=task.name)

    def on_done(result: TaskResult) -> None:
        reporter.step(None)
        progress["done"] += 1
        style = _TASK_STYLE.get(result.status, "white")
        speed = f" {result.speedup:.2f}x" if result.speedup else ""
        scaled = f"  [dim]scaled {', '.join(f'{k}={v}' for k, v in result.sizes.items())}[/]" if result.sizes else ""
        why = f"  [dim]{result.reason.splitlines()[0][:80]}[/]" if result.reason and not result.correct else ""
        console.print(f"[{progress['done']:>3}/{total}] [{style}]{result.status:9s}[/]{speed:>8s}  {result.name}"
                      f"  ({result.wall_s:.1f} s){scaled}{why}")

    stop = threading.Event()
    previous = _stop_on_first_interrupt(stop, root)
    try:
        results = run_bench(db, config, settings, on_start, on_done, reporter, stop)
    except RunParked as parked:  # --defer: every task wrote its jobs; the CLI says how to continue
        parked.resume_command = f"akg_cli bench --resume {root}"
        raise
    except KeyboardInterrupt:
        stop.set()
    finally:
        reporter.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if stop.is_set():
        left = len(db.unfinished())
        err_console.print(f"[yellow]interrupted[/]: {left} task(s) left; finished tasks are in {root / 'bench.db'}; "
                          f"continue with `akg_cli bench --resume {root}`")
        raise typer.Exit(130)
    write_bench_summary(root, results, config)
    console.print()
    console.print(metrics_table(compute(results)))
    for result in results:
        if result.correct and result.flags:
            console.print(f"[yellow]flagged[/] {result.name}: {'; '.join(result.flags)}")
    console.print(f"\nbench directory: {root}  (summary.md; plots: `akg_cli report {root}`)")


def _stop_on_first_interrupt(stop: threading.Event, root: Path) -> Any:
    """First Ctrl-C: finish the task in flight, start no other. Second: stop now (it resumes later).

    asyncio.run (inside each task's run) leaves a handler it did not install alone, so this one holds
    for the whole bench."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return None  # a background job started with SIGINT ignored keeps ignoring it

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err_console.print("[yellow]stopping after the task in flight[/] (Ctrl-C again to stop now; "
                          f"`akg_cli bench --resume {root}` continues either way)")

    return signal.signal(signal.SIGINT, handler)


def write_bench_summary(root: Path, results: list[TaskResult], config: RunConfig) -> None:
    (root / "summary.md").write_text(summary_markdown(f"Bench {root.resolve().name}", results, config))
    metrics = compute(results)
    data = {"metrics": {**to_dict(metrics), "correctness": metrics.correctness}, "tasks": [to_dict(r) for r in results]}
    (root / "summary.json").write_text(json.dumps(data, indent=2, default=str))


def report(
    path: Path = typer.Argument(None, help="A bench directory (from `akg_cli bench`) or a run directory (from `akg_cli op`)."),
    compare: tuple[Path, Path] | None = typer.Option(None, "--compare", help="Two bench (or run) directories A B, side by side."),
    output: Path = typer.Option(None, "--output", "-o", help="Where to write (default: PATH/report, or compare_A_vs_B)."),
) -> None:
    """Write report.md, report.html (plots embedded) and PNG plots for a bench or a run; or compare two."""
    from akg_agents.bench.report import check_source, write_compare, write_report

    hint = "choose a writable one with -o DIR"
    if compare:
        if path is not None:
            raise ConfigError("pass either PATH or --compare A B, not both")
        a, b = compare
        for side in (a, b):
            if not side.exists():
                raise ConfigError(f"{side} does not exist")
            check_source(side)
        target = writable_folder(output or Path(f"compare_{a.resolve().name}_vs_{b.resolve().name}"), "report folder", hint)
        written = write_compare(a, b, target)
    elif path is None:
        raise ConfigError("missing PATH (a bench or run directory), or --compare A B")
    else:
        if not path.exists():
            raise ConfigError(f"{path} does not exist")
        check_source(path)
        written = write_report(path, writable_folder(output or path / "report", "report folder", hint))
    for file in written:
        console.print(f"wrote {file}")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("report")(report)


__all__ = ["bench", "register", "report", "write_bench_summary"]
