"""`akg_cli`: generate, verify and measure kernels from the command line.

Every command turns a broken setup or bad input into one line and a non-zero exit code (see
errors.py); a traceback means a bug in akg_agents.
"""

from __future__ import annotations

import importlib.util
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from akg_agents.errors import AkgError, ConfigError
from akg_agents.runtime.parked import PARKED_EXIT, RunParked

app = typer.Typer(
    name="akg_cli",
    help="akg_agents: write fast compute kernels for PyTorch models, verified against PyTorch.\n\n"
    "Start with `akg_cli op --task examples/tasks/relu.py` (CPU, no API key needed).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# Outside a terminal (a pipe, a file, CI) nothing is wrapped or truncated to 80 columns: names in
# tables must be copyable (`skills show NAME`) and one-line errors must stay one line.
UNWRAPPED = 100_000
console = Console(highlight=False, width=None if sys.stdout.isatty() else UNWRAPPED)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else UNWRAPPED)


@dataclass
class CurrentRun:
    """What a Ctrl-C message names: the run directory this command writes, once it exists."""

    run_dir: Path | None = None


current_run = CurrentRun()


def _mount_optional(module: str, attr: str, name: str, help_text: str) -> None:
    """Commands living in their own modules mount when present: a module either defines
    `register(app)` (top-level commands such as `bench`) or a typer sub-app named `attr`."""
    if importlib.util.find_spec(module) is None:
        return
    loaded = importlib.import_module(module)
    if hasattr(loaded, "register"):
        loaded.register(app)
        return
    sub = getattr(loaded, attr, None)
    if sub is not None:
        app.add_typer(sub, name=name, help=help_text)


def host_arch() -> str:
    from akg_agents.dsl.backends.cpu import host_arch as cpu_arch

    return cpu_arch()


def default_arch(backend: str) -> str:
    """The backend plugin's default --arch (the cpu's: this machine's)."""
    from akg_agents.cli.targets import default_arch as plugin_default

    return plugin_default(backend)


def parse_devices(text: str) -> list[int]:
    """'0,1' -> [0, 1]. Every entry a device number, none empty, none twice."""
    parts = [part.strip() for part in text.split(",")]
    for part in parts:
        if not part:
            raise ConfigError(f"--devices '{text}' has an empty entry; list device numbers like 0 or 0,1")
        if not part.isdigit():
            where = f" in '{text}'" if len(parts) > 1 else ""
            raise ConfigError(f"--devices takes device numbers like 0 or 0,1 (not '{part}'{where})")
    devices = [int(part) for part in parts]
    twice = sorted({d for d in devices if devices.count(d) > 1})
    if twice:
        raise ConfigError(f"--devices '{text}' lists device {', '.join(map(str, twice))} twice")
    return devices


def writable_folder(path: Path, what: str = "output folder", hint: str = "choose another one with -o DIR") -> Path:
    """Create PATH (with its parents) when missing and check a file can be written in it; one
    line naming the folder otherwise (a file in the way, a read-only file system, no permission)."""
    for part in (path, *path.parents):
        if part.exists() and not part.is_dir():
            where = "is a file" if part == path else f"cannot be created: {part} is a file"
            raise ConfigError(f"{what} {path} {where}, not a folder", hint=hint)
        if part.exists():
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {what} {path}: {exc.strerror or exc}", hint=hint) from None
    try:
        with tempfile.TemporaryFile(dir=path, prefix=".akg_write_check"):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot write to {what} {path}: {exc.strerror or exc}", hint=hint) from None
    return path


def main() -> None:
    from akg_agents.cli import commands  # noqa: F401  (registers the commands on `app`)

    _mount_optional("akg_agents.cli.poly", "poly_app", "poly", "PolyTOPS: polyhedral scheduling of loop nests to tiled, parallel C.")
    _mount_optional("akg_agents.cli.bench", "bench_app", "bench", "Run a suite of tasks and report correctness and speedups.")
    _mount_optional("akg_agents.cli.config_cmd", "config_app", "config", "Create and show akg_agents settings.")
    _mount_optional("akg_agents.cli.skills_cmd", "skills_app", "skills", "List and show the knowledge documents given to agents.")
    _mount_optional("akg_agents.cli.evaluate_cmd", "evaluate_app", "evaluate", "Evaluate deferred bundles on this host.")
    interrupted = [False]

    def on_interrupt(signum: int, frame: FrameType | None) -> None:
        # click turns KeyboardInterrupt into its own exit before our handlers see it, so note it here.
        interrupted[0] = True
        signal.default_int_handler(signum, frame)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        app()
    except AkgError as error:
        err_console.print(f"[red]error:[/] {error}")
        if error.hint:
            err_console.print(f"[dim]hint: {error.hint}[/]")
        sys.exit(error.exit_code)
    except RunParked as parked:  # --defer: the jobs wait for `akg_cli evaluate`; not an error
        console.print(parked.message(), style="yellow", markup=False, highlight=False)
        sys.exit(PARKED_EXIT)
    except (KeyboardInterrupt, SystemExit):
        if not interrupted[0]:
            raise
    if interrupted[0]:
        run_dir = current_run.run_dir
        if run_dir is None:
            err_console.print("[yellow]interrupted[/] before a run directory was created: nothing to resume")
        else:
            err_console.print(f"[yellow]interrupted[/]: everything verified so far is in {run_dir}; "
                              f"continue with `akg_cli resume {run_dir}`")
        sys.exit(130)


__all__ = ["Path", "app", "console", "current_run", "default_arch", "err_console", "host_arch", "main",
           "parse_devices", "writable_folder"]
