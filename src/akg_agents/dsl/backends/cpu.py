"""The `cpu` backend: kernels run on this machine's cores; one device shared by every worker."""

from __future__ import annotations

import os
import platform
from typing import Any

from akg_agents.dsl.backend import Timer


def host_arch() -> str:
    machine = platform.machine().lower()
    if machine in ("aarch64", "arm64"):
        return "aarch64"
    return "x86_64" if machine in ("x86_64", "amd64", "x64") else machine


class CpuBackend:
    name = "cpu"
    device_type = "cpu"
    archs = ("x86_64", "aarch64")
    visibility_var = ""
    env_passthrough: tuple[str, ...] = ()
    single_device = True
    host_memory = True
    output_transport = "host_slots"
    runtime_starts_threads = False
    limit_address_space = True

    @property
    def default_arch(self) -> str:
        return host_arch()

    def worker_env(self, device_id: str) -> dict[str, str]:
        # Hide every GPU: a CPU candidate must not reach a device the timer does not watch.
        return {"CUDA_VISIBLE_DEVICES": ""}

    def runtime_problem(self) -> str | None:
        return None

    def device_count(self) -> int:
        return 1

    def synchronize(self) -> None:
        return None  # CPU kernels are done when the call returns

    def make_timer(self) -> Timer:
        from akg_agents.profile.timer import CpuTimer

        return CpuTimer()

    def device_name(self) -> str:
        return "cpu"

    def memory_capacity(self) -> int:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")

    def roofline_check(self, model: Any, inputs: list[Any], candidate_ms: float) -> str | None:
        return None  # no datasheet floor for a CPU: the timer and the referee carry the weight

    def arch_problem(self, arch: str, host: str) -> tuple[str, str] | None:
        """A CPU run targets the machine it runs on: the cpp DSL compiles with -march=native."""
        if arch == host:
            return None
        return (f"--arch {arch} cannot be targeted from this {host} host: cpu kernels are compiled "
                f"with -march=native for the machine they run on",
                f"leave --arch out (it is {host} here), or run on an {arch} machine")


BACKEND = CpuBackend()
