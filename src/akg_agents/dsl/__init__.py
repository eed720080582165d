"""DSL and backend plugins: `get_plugin("cpp")`, `get_backend("cuda")`; see dsl/registry.py for
how built-ins and third-party (entry point) plugins are found."""

from __future__ import annotations

from akg_agents.dsl.backend import Backend
from akg_agents.dsl.base import DslPlugin, Violation
from akg_agents.dsl.registry import (
    backend_for_device,
    backend_names,
    backend_of,
    dsl_names,
    get_backend,
    get_plugin,
    target_help,
    target_table,
    validate_target,
)

__all__ = ["Backend", "DslPlugin", "Violation", "backend_for_device", "backend_names", "backend_of", "dsl_names",
           "get_backend", "get_plugin", "target_help", "target_table", "validate_target"]
