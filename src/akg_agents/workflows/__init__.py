"""Search workflows, by name. Each module defines `async def run(ctx: RunContext) -> None`."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable

from akg_agents.errors import ConfigError
from akg_agents.workflows.base import RunContext

AVAILABLE = ("default", "coder_only", "kernelgen_only", "verifier_only", "evolve", "adaptive_search")
# Reached by `--workflow` only (a session's run_workflow tool offers AVAILABLE): poly_config, the
# model proposing PolyTOPS configs for loop-nest tasks (workflows/poly_config.py).
FLAG_ONLY = ("poly_config",)


def get_workflow(name: str) -> Callable[[RunContext], Awaitable[None]]:
    if name not in AVAILABLE + FLAG_ONLY:
        raise ConfigError(f"unknown --workflow '{name}'; valid: {', '.join(AVAILABLE + FLAG_ONLY)}")
    try:
        module = importlib.import_module(f"akg_agents.workflows.{name}")
    except ModuleNotFoundError:
        raise ConfigError(f"the '{name}' workflow is not available in this build") from None
    run: Callable[[RunContext], Awaitable[None]] = module.run
    return run
