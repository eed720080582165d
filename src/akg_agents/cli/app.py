"""`akg_cli`: generate, verify and measure kernels from the command line.

Every command turns a broken setup or bad input into one line and a non-zero exit code (see
errors.py); a traceback means a bug in akg_agents.
"""

from __future__ import annotations

import importlib.util
import platform
import signal
import sys
from pathlib import Path
from types import FrameType

import typer
from rich.console import Console

from akg_agents.errors import AkgError, ConfigError

app = typer.Typer(
    name="akg_cli",
    help="akg_agents: write fast compute kernels for PyTorch models, verified against PyTorch.\n\n"
    "Start with `akg_cli op --task examples/tasks/relu.py` (CPU, no API key needed).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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


def default_arch(backend: str) -> str:
    if backend == "cpu":
        return "aarch64" if platform.machine() in ("aarch64", "arm64") else "x86_64"
    return {"cuda": "h100", "ascend": "ascend910b4"}.get(backend, "")


def parse_devices(text: str) -> list[int]:
    try:
        devices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--devices takes comma-separated integers like 0,1 (got '{text}')") from None
    if not devices:
        raise ConfigError("--devices needs at least one device id")
    return devices


def main() -> None:
    from akg_agents.cli import commands  # noqa: F401  (registers the commands on `app`)

    _mount_optional("akg_agents.cli.poly", "poly_app", "poly", "PolyTOPS: polyhedral scheduling of loop nests to tiled, parallel C.")
    _mount_optional("akg_agents.cli.bench", "bench_app", "bench", "Run a suite of tasks and report correctness and speedups.")
    _mount_optional("akg_agents.cli.config_cmd", "config_app", "config", "Create and show akg_agents settings.")
    _mount_optional("akg_agents.cli.skills_cmd", "skills_app", "skills", "List and show the knowledge documents given to agents.")
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
    except (KeyboardInterrupt, SystemExit):
        if not interrupted[0]:
            raise
    if interrupted[0]:
        err_console.print("[yellow]interrupted[/]: everything verified so far is in the run directory; "
                          "continue with `akg_cli resume RUN_DIR` (or `akg_cli bench --resume DIR`)")
        sys.exit(130)


__all__ = ["Path", "app", "console", "default_arch", "err_console", "main", "parse_devices"]
