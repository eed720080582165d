"""The backend (device) plugin protocol: everything that differs between the CPU, CUDA GPUs and
Ascend NPUs, so that the device pool, the sandboxed worker, the referee and the CLI never branch
on a backend's name.

A DSL plugin names its backend (`DslPlugin.backend`); a backend is found by that name
(`akg_agents.dsl.registry.get_backend`) or, inside the worker and the referee, by the torch
device type a job runs on (`backend_for_device("npu")`). Like DSL plugins, backend modules import
with the standard library alone: torch and the device runtime (torch_npu) are imported inside
the methods, in the processes that run kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Timer(Protocol):
    """What profile/timer.py's `time_interleaved` and the worker drive."""

    def sync(self) -> None: ...

    def time_one(self, fn: Callable[[], Any]) -> float:
        """Milliseconds of one call, measured the device's way (host clock, or events)."""
        ...


class Backend(Protocol):
    name: str  # --backend value: "cpu" | "cuda" | "ascend"
    device_type: str  # torch device type the kernels run on: "cpu" | "cuda" | "npu"
    archs: tuple[str, ...]  # valid --arch values
    default_arch: str  # --arch when none is given
    # Environment variable that pins a worker to one device ("" for none): each worker sees its
    # device as number 0, whatever its number on the host.
    visibility_var: str
    # Extra host environment variables a worker needs to reach the device runtime (toolkit paths);
    # the sandbox drops everything it does not know, secrets above all.
    env_passthrough: tuple[str, ...]
    # One device shared by every worker (the CPU's cores), or one worker per listed device.
    single_device: bool
    # The kernels' tensors live in host memory (the CPU): copying an output into the referee's
    # shared-memory slot is its snapshot, inputs can be handed out through shared memory, and the
    # host's memory is what a task must fit in. Otherwise the device's memory is.
    host_memory: bool
    # How outputs reach the referee: "ipc" (device memory handles, no copy) or "host_slots"
    # (copied into shared-memory slots the referee maps).
    output_transport: str
    # The device runtime starts its own native threads while a candidate loads (CUDA, CANN), so a
    # new native thread then proves nothing; on the CPU one is work outside the calls.
    runtime_starts_threads: bool
    # An address-space limit (RLIMIT_AS) is meaningful: device runtimes reserve huge virtual
    # ranges, so on a device only host memory pressure is a problem, not address space.
    limit_address_space: bool

    def worker_env(self, device_id: str) -> dict[str, str]:
        """The variables that pin one worker to `device_id` (a host device number)."""
        ...

    def runtime_problem(self) -> str | None:
        """None when torch can reach this device here; else one line: what is missing, how to get it."""
        ...

    def device_count(self) -> int:
        """Devices visible here (0 when the runtime is missing)."""
        ...

    def synchronize(self) -> None:
        """Wait for every queued kernel on the whole device (every stream)."""
        ...

    def make_timer(self) -> Timer:
        ...

    def device_name(self) -> str:
        """Name of the device this process uses (baseline cache key, messages)."""
        ...

    def memory_capacity(self) -> int:
        """Bytes the task's tensors may use: device memory, or the host's for the CPU."""
        ...

    def roofline_check(self, model: Any, inputs: list[Any], candidate_ms: float) -> str | None:
        """A flag when `candidate_ms` is below the physical floor of `model(*inputs)` here."""
        ...

    def arch_problem(self, arch: str, host_arch: str) -> tuple[str, str] | None:
        """None when `arch` can be targeted from this host; else (message, hint). The CPU compiles
        for itself only."""
        ...

    # Optional: `activate()` loads the device runtime into a process that is about to make its
    # first tensor on the device (the worker and the referee call it through verify/taskrun.py);
    # torch_npu must be imported before torch knows the "npu" device type.


def visibility_env(var: str, device_id: str) -> dict[str, str]:
    """`CUDA_VISIBLE_DEVICES=<id>` and the like; the CPU hides every GPU from its workers."""
    return {var: device_id} if var else {}
