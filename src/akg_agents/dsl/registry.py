"""Finding plugins: built-ins by name, third-party ones through package entry points.

    get_plugin("triton_ascend")     # akg_agents/dsl/triton_ascend.py's PLUGIN
    get_backend("ascend")           # akg_agents/dsl/backends/ascend.py's BACKEND
    backend_for_device("npu:0")     # the backend whose torch device type is "npu"
    target_table()                  # {backend: (archs, dsls)}: what --backend/--arch/--dsl accept

A third-party package adds a DSL (or a backend) without touching akg_agents by declaring

    [project.entry-points."akg_agents.dsl"]
    my_dsl = "my_package.my_dsl:PLUGIN"          # an object satisfying dsl/base.py's DslPlugin
    [project.entry-points."akg_agents.backends"]
    my_npu = "my_package.my_backend:BACKEND"     # an object satisfying dsl/backend.py's Backend

An entry point may also name a module (its PLUGIN / BACKEND is used) or a class (instantiated).
Built-in names win over entry points of the same name. The CLI's help and its target validation
read `target_table()`, so a new DSL shows up there once installed.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import types
from typing import Any

from akg_agents.dsl.backend import Backend
from akg_agents.dsl.base import DslPlugin
from akg_agents.errors import ConfigError

BUILTIN_DSLS = ("cpp", "triton_cuda", "cuda_c", "tilelang_cuda", "triton_ascend")
BUILTIN_BACKENDS = ("cpu", "cuda", "ascend")
DSL_GROUP = "akg_agents.dsl"
BACKEND_GROUP = "akg_agents.backends"
DSL_REQUIRED = ("name", "backend", "device_type", "language", "static_check", "instrument", "toolchain_problem", "export",
                "contract", "example")
BACKEND_REQUIRED = ("name", "device_type", "archs", "default_arch", "worker_env", "runtime_problem", "device_count",
                    "synchronize", "make_timer", "device_name", "memory_capacity", "roofline_check", "arch_problem")

_dsls: dict[str, DslPlugin] = {}
_backends: dict[str, Backend] = {}
_by_device: dict[str, Backend] = {}


def _entry_points(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    """Read afresh on every call: a test (or a notebook) may install a plugin after start-up."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def _resolve(loaded: Any, attr: str) -> Any:
    if isinstance(loaded, types.ModuleType):
        loaded = getattr(loaded, attr, None)
    if inspect.isclass(loaded):
        loaded = loaded()
    return loaded


def _check(obj: Any, required: tuple[str, ...], what: str, name: str) -> None:
    missing = [attr for attr in required if not hasattr(obj, attr)]
    if obj is None or missing:
        raise ConfigError(f"{what} plugin '{name}' is incomplete: it lacks {', '.join(missing) or 'a plugin object'}",
                          hint=f"see akg_agents/dsl/{'base' if what == 'DSL' else 'backend'}.py for the protocol")
    if obj.name != name:
        raise ConfigError(f"{what} plugin registered as '{name}' calls itself '{obj.name}'")


def _load_entry_point(group: str, name: str, attr: str, what: str) -> Any:
    found = _entry_points(group).get(name)
    if found is None:
        return None
    try:
        loaded = found.load()
    except Exception as exc:  # a broken third-party package: one line naming it
        raise ConfigError(f"{what} plugin '{name}' ({found.value}) cannot be loaded: {exc!r}") from None
    return _resolve(loaded, attr)


def get_plugin(name: str) -> DslPlugin:
    if name in _dsls:
        return _dsls[name]
    if name in BUILTIN_DSLS:
        plugin = importlib.import_module(f"akg_agents.dsl.{name}").PLUGIN
    else:
        plugin = _load_entry_point(DSL_GROUP, name, "PLUGIN", "DSL")
        if plugin is None:
            raise ConfigError(f"no plugin for DSL '{name}'; known: {', '.join(dsl_names())}",
                              hint=f"a third-party DSL is installed as a package with an '{DSL_GROUP}' entry point")
    _check(plugin, DSL_REQUIRED, "DSL", name)
    _dsls[name] = plugin
    return plugin


def get_backend(name: str) -> Backend:
    if name in _backends:
        return _backends[name]
    if name in BUILTIN_BACKENDS:
        backend = importlib.import_module(f"akg_agents.dsl.backends.{name}").BACKEND
    else:
        backend = _load_entry_point(BACKEND_GROUP, name, "BACKEND", "backend")
        if backend is None:
            raise ConfigError(f"unknown --backend '{name}'; valid: {', '.join(backend_names())}")
    _check(backend, BACKEND_REQUIRED, "backend", name)
    _backends[name] = backend
    return backend


def dsl_names() -> list[str]:
    return [*BUILTIN_DSLS, *sorted(set(_entry_points(DSL_GROUP)) - set(BUILTIN_DSLS))]


def backend_names() -> list[str]:
    return [*BUILTIN_BACKENDS, *sorted(set(_entry_points(BACKEND_GROUP)) - set(BUILTIN_BACKENDS))]


def backend_of(dsl: str) -> Backend:
    return get_backend(get_plugin(dsl).backend)


def backend_for_device(device: str) -> Backend:
    """The backend whose torch device type `device` ("cuda", "npu:0", "cpu") belongs to. Cached:
    the worker asks on every guarded call (its synchronize), so built-ins are tried first and
    entry points are read only for a device type no built-in has."""
    kind = device.split(":", 1)[0]
    if kind in _by_device:
        return _by_device[kind]
    for name in [*BUILTIN_BACKENDS, *backend_names()]:
        try:
            backend = get_backend(name)
        except ConfigError:  # a broken third-party backend: it says why when asked for by name
            continue
        if backend.device_type == kind:
            _by_device[kind] = backend
            return backend
    raise ConfigError(f"no backend plugin runs on torch device type '{kind}'")


def plugin_skill_dirs() -> list[str]:
    """Knowledge folders that third-party DSL plugins ship (their optional `skills_dir()`); the
    built-ins' live in skills/knowledge/<dsl>/. A plugin that cannot be loaded is skipped here."""
    found = []
    for name in dsl_names():
        if name in BUILTIN_DSLS:
            continue
        try:
            own = getattr(get_plugin(name), "skills_dir", None)
        except ConfigError:
            continue
        if own is not None:
            found.append(str(own()))
    return found


def target_table() -> dict[str, tuple[tuple[str, ...], list[str]]]:
    """{backend: (its archs, the DSLs that name it)}, in plugin order. A third-party plugin that
    cannot be loaded is left out here (it says why when asked for by name)."""
    table: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for name in backend_names():
        try:
            table[name] = (tuple(get_backend(name).archs), [])
        except ConfigError:
            continue
    for dsl in dsl_names():
        try:
            backend = get_plugin(dsl).backend
        except ConfigError:
            continue
        if backend in table:
            table[backend][1].append(dsl)
    return table


def target_help() -> str:
    """'Valid combinations: cpu/x86_64|aarch64/cpp, cuda/h100|.../triton_cuda|cuda_c, ...' from the plugins."""
    parts = [f"{b}/{'|'.join(archs)}/{'|'.join(dsls)}" for b, (archs, dsls) in target_table().items() if dsls]
    return "Valid combinations (backend/arch/dsl): " + ", ".join(parts) + "."


def validate_target(backend: str, arch: str, dsl: str) -> None:
    """One line naming the valid choices when a combination is wrong."""
    table = target_table()
    if backend not in table:
        raise ConfigError(f"unknown --backend '{backend}'; valid: {', '.join(table)}")
    archs, dsls = table[backend]
    if arch not in archs:
        raise ConfigError(f"--arch '{arch}' is not a {backend} arch; valid: {', '.join(archs)}")
    if dsl not in dsls:
        get_plugin(dsl)  # an unknown or broken DSL says so first
        raise ConfigError(f"--dsl '{dsl}' does not run on backend {backend}; valid: {', '.join(dsls)}")
    unsupported: dict[str, str] = getattr(get_plugin(dsl), "unsupported_archs", {}) or {}
    if arch in unsupported:
        raise ConfigError(f"--dsl {dsl} cannot target {arch}: {unsupported[arch]}")
