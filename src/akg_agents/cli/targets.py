"""What the CLI says about targets, read from the plugins (dsl/registry.py): the help of
--backend, --arch and --dsl, and the checks of a backend/arch/devices choice. A DSL or backend
installed as a package shows up here without an edit."""

from __future__ import annotations

from akg_agents.dsl.registry import backend_names, dsl_names, get_backend, get_plugin, target_help
from akg_agents.errors import ConfigError, ToolchainError


def backend_help() -> str:
    return f"Where kernels run: {', '.join(backend_names())}. {target_help()}"


def arch_help() -> str:
    defaults = ", ".join(f"{name}: {get_backend(name).default_arch}" for name in backend_names())
    return (f"Target architecture (default per backend: {defaults}; the cpu's is this machine's). "
            "On the cpu only this machine's: kernels are compiled with -march=native.")


def dsl_help() -> str:
    return f"Kernel language: {', '.join(dsl_names())} (each runs on one backend; see --backend)."


def default_arch(backend: str) -> str:
    return get_backend(backend).default_arch


def check_host_arch(backend: str, arch: str, host: str) -> None:
    """A target the host cannot build for (the cpu compiles with -march=native for itself)."""
    problem = get_backend(backend).arch_problem(arch, host)
    if problem is not None:
        raise ConfigError(problem[0], hint=problem[1])


def check_device_numbers(backend: str, devices: list[int], text: str) -> list[int]:
    """Device numbers against what this machine has (no check where none is visible: a deferred
    run evaluates elsewhere, and a missing runtime is reported once, by require_toolchain)."""
    plugin = get_backend(backend)
    if plugin.single_device:
        if devices != [0]:
            raise ConfigError(f"--devices {text}: the {backend} backend has one device, 0 (its cores are shared)",
                              hint="leave --devices out on the cpu; --threads N chooses how many cores")
        return devices
    count = plugin.device_count()
    missing = [d for d in devices if d >= count]
    if count and missing:
        raise ConfigError(f"--devices {text}: this machine has {count} {backend} device(s), numbered 0-{count - 1} "
                          f"(no device {', '.join(map(str, missing))})")
    return devices


def require_toolchain(dsl: str) -> None:
    """Before anything is printed or run: the DSL's compilers and its device runtime, in one line
    (exit code 3). Not for runs whose candidates are evaluated elsewhere (--defer, Ray)."""
    problem = get_plugin(dsl).toolchain_problem()
    if problem:
        raise ToolchainError(problem)
