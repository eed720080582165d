"""How runs look in a terminal: progress lines while work runs, one table at the end."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from akg_agents.records import Candidate, EvalResult

STATUS_STYLE = {
    "passed": "green", "mismatch": "yellow", "rejected": "magenta", "compile_error": "red",
    "runtime_error": "red", "timeout": "red",
}


class RichReporter:
    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Any = None

    def info(self, message: str) -> None:
        self.console.print(f"[cyan]•[/] {message}")

    def candidate_started(self, candidate: Candidate) -> None:
        if self._status is None:
            self._status = self.console.status(f"evaluating {candidate.id} (compile, verify, profile) ...")
            self._status.start()
        else:
            self._status.update(f"evaluating {candidate.id} (compile, verify, profile) ...")

    def candidate_done(self, candidate: Candidate, result: EvalResult, resumed: bool) -> None:
        style = STATUS_STYLE.get(result.status.value, "white")
        speed = f"  {result.profile.speedup:.2f}x vs eager" if result.profile else ""
        took = f"  ({result.timings_s['total']:.2f} s)" if "total" in result.timings_s else ""
        again = "  [dim](from an earlier run)[/]" if resumed else ""
        # A pass says it all in its speedup; a failure needs its reason (and the rule) on the line.
        why = "" if result.ok else f"  [dim]{result.message[:100]}{f' [{result.rule}]' if result.rule else ''}[/]"
        self.console.print(f"  [{style}]{result.status.value:13s}[/] {candidate.id}{speed}{took}{again}{why}")
        if self._status is not None:
            self._status.stop()
            self._status = None


def results_table(rows: list[dict[str, Any]]) -> Table:
    with_compile = any(row.get("compile_ms") is not None for row in rows)
    table = Table(title="Results", show_lines=False)
    columns = ["candidate", "status", "time (ms)", "spread (ms)", "eager (ms)", "speedup"]
    if with_compile:
        columns += ["compile (ms)", "vs compile"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("candidate", "status") else "right")
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
