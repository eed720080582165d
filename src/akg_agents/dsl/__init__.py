"""DSL plugins, found by name: `get_plugin("cpp")` imports `akg_agents.dsl.cpp` and returns PLUGIN."""

from __future__ import annotations

import importlib

from akg_agents.dsl.base import DslPlugin, Violation

__all__ = ["DslPlugin", "Violation", "get_plugin"]


def get_plugin(name: str) -> DslPlugin:
    try:
        module = importlib.import_module(f"akg_agents.dsl.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"akg_agents.dsl.{name}":
            from akg_agents.errors import ConfigError

            raise ConfigError(f"no plugin for DSL '{name}'") from None
        raise
    plugin: DslPlugin = module.PLUGIN
    return plugin
