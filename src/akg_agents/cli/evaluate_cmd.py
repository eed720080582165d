"""`akg_cli evaluate DIR`: run deferred evaluation bundles here (the host with the device).

Mounted by cli/app.py through `register(app)`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from akg_agents.cli.app import console, parse_devices, writable_folder
from akg_agents.config.settings import load_settings
from akg_agents.errors import ConfigError
from akg_agents.runtime.deferred import BUNDLE_FILE, Job


def evaluate(
    folder: Path = typer.Argument(..., help="The folder given to `--defer DIR` (bundles, one subfolder each)."),
    devices: str = typer.Option("0", help="GPU numbers to evaluate on, e.g. 0,1 (bundles for the cpu use the cpu)."),
    ray_address: str = typer.Option(None, "--ray-address", help="Evaluate on a Ray cluster's devices instead (needs akg_agents[ray])."),
) -> None:
    """Evaluate the bundles that `akg_cli op/bench --defer DIR` wrote, and write each result next to it.

    Needs akg_agents and torch (and the DSL's toolchain) on this host: no network, no model, no API key.
    Bundles that already have a result are not evaluated again. Then bring DIR back to where the
    runs were made and continue them: `akg_cli resume RUN` (or `akg_cli bench --resume BENCH`).

        akg_cli evaluate bundles/ --devices 0,1
    """
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder of bundles" if folder.exists() else f"{folder} does not exist")
    if not list(folder.glob(f"*/{BUNDLE_FILE}")):
        raise ConfigError(f"{folder} holds no bundles (*/{BUNDLE_FILE})", hint="give the folder that was passed to --defer")
    writable_folder(folder, "bundle folder", "results are written next to the bundles: copy the folder somewhere writable")
    settings = load_settings("cpp", {"ray_address": ray_address} if ray_address else {})
    device_ids = parse_devices(devices)
    from akg_agents.runtime.deferred_eval import evaluate_bundles

    def on_done(job: Job, verdict: str) -> None:
        console.print(f"  {job.bundle_id}  [bold]{job.kind}[/]  {verdict}", markup=True, highlight=False)

    console.print(f"[bold]akg_agents[/] evaluate {folder}")
    summary = evaluate_bundles(folder, device_ids, settings.resolved_cache_dir(), settings.ray_address, on_done)
    for problem in summary.refused:
        console.print(f"[red]refused[/] {problem}")
    console.print(f"{len(summary.evaluated)} bundle(s) evaluated, {summary.already} already had a result "
                  f"(not evaluated again), {len(summary.refused)} refused; results are in {folder}")
    if summary.evaluated:
        console.print("next: bring the folder back and continue where the runs were made: "
                      "`akg_cli resume RUN` (or `akg_cli bench --resume BENCH`)")
    raise typer.Exit(1 if summary.refused else 0)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)


__all__ = ["evaluate", "register"]
