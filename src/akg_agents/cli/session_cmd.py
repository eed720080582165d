"""`akg_cli sessions`: the saved sessions (reopen one with `akg_cli resume SESSION`)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from akg_agents.cli.app import app, console
from akg_agents.cli.session_store import list_sessions, sessions_dir
from akg_agents.config.settings import load_settings


@app.command("sessions")
def sessions_command(
    output: Path = typer.Option(None, "--output", "-o", help="The folder runs go to (default: log_dir setting, ./akg_runs)."),
) -> None:
    """List the saved `akg_cli op` sessions; `akg_cli resume SESSION` reopens one.

    (`akg_cli resume RUN_DIR` continues an interrupted run instead: a run directory is what
    `akg_cli op --task` prints; a session is what `akg_cli op` without a task opens.)
    """
    log_dir = str(output) if output else load_settings().log_dir
    found = list_sessions(log_dir)
    if not found:
        console.print(f"no sessions in {sessions_dir(log_dir)}; `akg_cli op` without --task opens one")
        return
    table = Table(title=f"Sessions in {sessions_dir(log_dir)}")
    for column in ("session", "started", "messages", "target", "current task", "kernels", "best"):
        table.add_column(column, overflow="fold" if column == "session" else "ellipsis")
    for store in found:
        state = store.state
        target = state.target
        task = next((f"{t.id} {t.name}" for t in state.tasks if t.id == state.current_task), "-")
        best = store.best()
        table.add_row(state.id, state.created, str(state.messages),
                      f"{target.get('backend')}/{target.get('dsl')} {target.get('precision', 'fp32')}, {state.model}",
                      task, str(len(state.kernels)),
                      f"{best.id} {best.speedup:.2f}x" if best and best.speedup is not None else (best.id if best else "-"))
    console.print(table)
    console.print("reopen one with `akg_cli resume SESSION`")
