"""A pool of devices, one warm sandbox each; one evaluation per device at a time.

    pool = DevicePool.from_arg("0,1", cache_dir, settings)   # --devices 0,1 (or "cpu")
    result = await pool.evaluate(task, candidate)           # waits for a free device

Each device gets its own worker server, pinned by its backend plugin's visibility variable
(CUDA_VISIBLE_DEVICES=<id> on a GPU, ASCEND_RT_VISIBLE_DEVICES=<id> on an NPU), so inside the
sandbox the candidate always sees one device, number 0, whatever its number on the host. The CPU
is one device, "cpu". Nothing here knows any DSL or branches on a backend: the plugin says
how to pin a worker and which host variables its runtime needs (dsl/backend.py).

A worker that dies is replaced: Sandbox restarts a dead server on its next job, and a device
whose job raised (a broken sandbox, not a failed candidate) gets a fresh Sandbox on release.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

from akg_agents.dsl.backend import Backend
from akg_agents.dsl.registry import backend_for_device, get_backend
from akg_agents.errors import ConfigError, WorkerError
from akg_agents.records import Candidate, EvalResult, Task
from akg_agents.verify.evaluate import Verifier, VerifySettings
from akg_agents.verify.sandbox import Sandbox


@dataclass
class DeviceSlot:
    """One device: its host id ("0", "cpu"), the torch device the worker uses, its verifier."""

    device_id: str
    torch_device: str
    verifier: Verifier
    jobs: int = 0


def parse_devices(arg: str | list[int] | None) -> list[str]:
    """`"0,1"` -> ["0", "1"]; `"cpu"`, "" or None -> ["cpu"]; [2, 3] -> ["2", "3"]."""
    if arg is None or arg == "" or arg == "cpu":
        return ["cpu"]
    items = [str(a) for a in arg] if isinstance(arg, list) else [part.strip() for part in arg.split(",")]
    for item in items:
        if not item.isdigit():
            raise ConfigError(f"--devices takes GPU numbers like 0,1 or 'cpu', not {item!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"--devices lists a GPU twice: {arg}")
    return items


class DevicePool:
    def __init__(
        self,
        devices: list[str],
        cache_dir: str,
        settings: VerifySettings,
        preload: tuple[str, ...] = (),
        sandbox_factory: Callable[[str, dict[str, str]], Sandbox] | None = None,
        backend: str | None = None,
    ) -> None:
        """`backend`: the plugin that pins numbered devices; by default the one of
        `settings.device` ("cuda" when that is the CPU's, for numbered devices)."""
        self.cache_dir = cache_dir
        self._backend_name = backend
        self.settings = settings
        self._preload = preload
        self._factory = sandbox_factory or (lambda cache, env: Sandbox(cache, env_extra=env))
        self.slots = [self._make_slot(device) for device in devices]
        self._free: asyncio.Queue[DeviceSlot] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @classmethod
    def from_arg(cls, arg: str | list[int] | None, cache_dir: str, settings: VerifySettings, **kwargs: object) -> DevicePool:
        return cls(parse_devices(arg), cache_dir, settings, **kwargs)  # type: ignore[arg-type]

    def _backend_of(self, device: str) -> Backend:
        if device == "cpu":
            return get_backend("cpu")
        if self._backend_name:
            return get_backend(self._backend_name)
        kind = self.settings.device.split(":", 1)[0]
        return get_backend("cuda") if kind == "cpu" else backend_for_device(kind)

    def _make_slot(self, device: str) -> DeviceSlot:
        env: dict[str, str] = {}
        if self._preload:
            env["AKG_AGENTS_PRELOAD"] = ",".join(self._preload)
        backend = self._backend_of(device)
        torch_device = backend.device_type
        # The runtime's own host variables (toolkit paths) pass the sandbox's scrubbing.
        env.update({name: os.environ[name] for name in backend.env_passthrough if name in os.environ})
        env.update(backend.worker_env(device))
        # Sandboxes share the reference and compile caches; each has its own server log.
        sandbox = self._factory(os.path.join(self.cache_dir, f"device_{device}"), env)
        verifier = Verifier(replace(self.settings, device=torch_device), self.cache_dir, sandbox=sandbox, env_extra=env)
        return DeviceSlot(device, torch_device, verifier)

    @property
    def size(self) -> int:
        return len(self.slots)

    def _queue(self) -> asyncio.Queue[DeviceSlot]:
        # Created lazily, per event loop: a bench reuses one pool across tasks, each run in its
        # own asyncio.run(), and a queue is bound to the loop it was first awaited in.
        loop = asyncio.get_running_loop()
        if self._free is None or self._loop is not loop:
            self._loop = loop
            self._free = asyncio.Queue()
            for slot in self.slots:
                self._free.put_nowait(slot)
        return self._free

    async def acquire(self) -> DeviceSlot:
        return await self._queue().get()

    def release(self, slot: DeviceSlot, broken: bool = False) -> None:
        if broken:  # the sandbox itself failed: start from a fresh one
            slot.verifier.close()
            fresh = self._make_slot(slot.device_id)
            self.slots[self.slots.index(slot)] = fresh
            slot = fresh
        self._queue().put_nowait(slot)

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[DeviceSlot]:
        slot = await self.acquire()
        broken = False
        try:
            yield slot
        except WorkerError:  # the sandbox broke (a failed candidate is a result, not an exception)
            broken = True
            raise
        finally:
            self.release(slot, broken)

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        """Verify (and profile) on the next free device; blocking work runs in a thread."""
        async with self.lease() as slot:
            slot.jobs += 1
            return await asyncio.to_thread(slot.verifier.evaluate, task, candidate, profile)

    def close(self) -> None:
        for slot in self.slots:
            slot.verifier.close()
