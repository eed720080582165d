"""How runs look in a terminal: progress lines while work runs, one table at the end.

Without a terminal there is no spinner, so a long step would be silence: whenever a task has been
prepared, or a candidate evaluated, for `progress_after_s` seconds without a line, a line says
what is still running and for how long (a hang shows at once, not when its timeout fires).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from akg_agents.cli.app import current_run
from akg_agents.records import Candidate, EvalResult

STATUS_STYLE = {
    "passed": "green", "mismatch": "yellow", "rejected": "magenta", "compile_error": "red",
    "runtime_error": "red", "timeout": "red",
}


@dataclass
class _Running:
    what: str  # "preparing task 'relu' ...", "evaluating builtin-0 ..."
    context: str  # what it belongs to, when lines of several tasks mix (a bench: the task's name)
    started: float
    quiet_since: float  # the later of its start and the last line printed about it


class RichReporter:
    """`quiet`: only the still-running lines (a bench prints one line per task itself)."""

    def __init__(self, console: Console, quiet: bool = False, progress_after_s: float = 15.0) -> None:
        self.console = console
        self.quiet = quiet
        self.progress_after_s = progress_after_s
        self._status: Any = None
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._context = threading.local()  # the step a worker thread is on (bench: one task per device)
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    # -- what the runner and workflows report -------------------------------------------------

    def info(self, message: str) -> None:
        if not self.quiet:
            self._print(f"[cyan]•[/] {message}")

    def run_dir(self, root: Path) -> None:
        """The run directory exists (the task is prepared): interrupting now leaves a resumable run."""
        current_run.run_dir = root
        self._untrack(-threading.get_ident())  # preparation is over

    def candidate_started(self, candidate: Candidate) -> None:
        self._track(id(candidate), f"evaluating {candidate.id} (compile, verify, profile)")
        if self.quiet:
            return
        if self._status is None:
            self._status = self.console.status(f"evaluating {candidate.id} (compile, verify, profile) ...")
            self._status.start()
        else:
            self._status.update(f"evaluating {candidate.id} (compile, verify, profile) ...")

    def candidate_done(self, candidate: Candidate, result: EvalResult, resumed: bool) -> None:
        self._untrack(id(candidate))
        if self.quiet:
            return
        style = STATUS_STYLE.get(result.status.value, "white")
        speed = f"  {result.profile.speedup:.2f}x vs eager" if result.profile else ""
        took = f"  ({result.timings_s['total']:.2f} s)" if "total" in result.timings_s else ""
        again = "  [dim](from an earlier run)[/]" if resumed else ""
        # A pass says it all in its speedup; a failure needs its reason (and the rule) on the line.
        why = "" if result.ok else f"  [dim]{result.message[:100]}{f' [{result.rule}]' if result.rule else ''}[/]"
        self._print(f"  [{style}]{result.status.value:13s}[/] {candidate.id}{speed}{took}{again}{why}")
        if self._status is not None:
            self._status.stop()
            self._status = None

    # -- steps the CLI itself starts --------------------------------------------------------------

    def step(self, label: str | None, context: str | None = None) -> None:
        """Start a long step of the calling thread (e.g. "preparing task 'relu' ..."), or end it
        (None). `context` names what the thread works on in still-running lines (a bench: the task)."""
        key = -threading.get_ident()
        self._untrack(key)
        if context is not None:
            self._context.label = context
        if label is not None:
            self._track(key, label)

    def close(self) -> None:
        self._stop.set()
        if self._status is not None:
            self._status.stop()
            self._status = None

    def __enter__(self) -> RichReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the still-running lines ----------------------------------------------------------------

    def _print(self, line: str) -> None:
        with self._lock:
            now = time.monotonic()
            for running in self._running.values():
                running.quiet_since = now
        self.console.print(line)

    def _track(self, key: int, what: str) -> None:
        now = time.monotonic()
        context = getattr(self._context, "label", "")
        with self._lock:
            self._running[key] = _Running(what, context, now, now)
            if self._watch is None:
                self._watch = threading.Thread(target=self._watch_loop, name="akg-progress", daemon=True)
                self._watch.start()

    def _untrack(self, key: int) -> None:
        with self._lock:
            self._running.pop(key, None)

    def _watch_loop(self) -> None:
        poll = min(1.0, self.progress_after_s / 4)
        while not self._stop.wait(poll):
            now = time.monotonic()
            with self._lock:
                due = [r for r in self._running.values() if now - r.quiet_since >= self.progress_after_s]
                for running in due:
                    running.quiet_since = now
            for running in due:
                context = f"{running.context}: " if running.context else ""
                self.console.print(f"  [dim]... {context}still {running.what}: {now - running.started:.0f} s so far[/]")


def results_table(rows: list[dict[str, Any]]) -> Table:
    with_compile = any(row.get("compile_ms") is not None for row in rows)
    table = Table(title="Results", show_lines=False)
    columns = ["candidate", "status", "time (ms)", "spread (ms)", "eager (ms)", "speedup"]
    if with_compile:
        columns += ["compile (ms)", "vs compile"]
    for column in columns:
        # a candidate's name is never cut short: it is what `candidates/NAME.py` is called
        table.add_column(column, justify="left" if column in ("candidate", "status") else "right",
                         overflow="fold" if column == "candidate" else "ellipsis",
                         min_width=len(column) if column == "candidate" else None)
    for row in rows:
        style = STATUS_STYLE.get(row["status"], "white")
        cells = [
            row["candidate"],
            f"[{style}]{row['status']}[/]",
            _fmt(row["candidate_ms"], ".4f"),
            _fmt(row.get("candidate_spread_ms"), ".4f"),
            _fmt(row["eager_ms"], ".4f"),
            _ratio(row["speedup"]),
        ]
        if with_compile:
            compiled, mine = row.get("compile_ms"), row["candidate_ms"]
            cells += [_fmt(compiled, ".4f"), _ratio(compiled / mine if compiled and mine else None)]
        table.add_row(*cells)
    return table


def _ratio(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)
