"""Evaluation on a Ray cluster: one actor per device across the nodes, each hosting the per-device
verifier a local DevicePool slot has (its own referee and sandbox, on the actor's node).

    evaluator = RayEvaluator.connect("auto", cache_dir="", settings=verify, dsl="triton_cuda")
    result = await evaluator.evaluate(task, candidate)   # the next free actor, anywhere in the cluster

GPU DSLs get one actor per GPU of the cluster (Ray sets CUDA_VISIBLE_DEVICES for each, and the
actor passes it on to its sandbox and referee exactly as the local pool does). CPU DSLs get
`cpu_devices` actors (0: one per node: a node's cores are one device, as locally), each reserving
max(threads, 1) CPUs. References are prepared by each actor's referee on its own node, baselines
cached on that node's disk.

A lost actor or node (ActorDiedError, ActorUnavailableError, a dead worker) does not lose work:
results already returned are in the run store, and the candidate in flight is evaluated again
on another actor while a replacement actor is started wherever Ray finds room.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from akg_agents.dsl import get_plugin
from akg_agents.errors import AkgError, ConfigError, TaskError, ToolchainError, WorkerError
from akg_agents.records import Candidate, EvalResult, Status, Task
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.verify.evaluate import ReferenceInfo, Verifier, VerifySettings
from akg_agents.verify.protocol import RaceOutcome
from akg_agents.verify.sandbox import Sandbox

START_TIMEOUT_S = 180.0  # an actor imports torch and starts; a node may have to be brought up
MAX_ATTEMPTS = 3  # a candidate whose actor dies this many times is reported, not retried forever
ERRORS: dict[str, type[AkgError]] = {"TaskError": TaskError, "ToolchainError": ToolchainError, "WorkerError": WorkerError,
                                     "ConfigError": ConfigError}


class DeviceHost:
    """Inside a Ray actor: one device's Verifier. AkgErrors come back as values (re-raised by the
    driver as the same class) so nothing depends on how Ray wraps exceptions."""

    def __init__(self, settings: VerifySettings, cache_dir: str, name: str, dsl: str) -> None:
        import ray

        self.settings, self.name, self.dsl = settings, name, dsl
        self.cache_dir = cache_dir or str(Path.home() / ".cache" / "akg_agents")  # this node's
        gpus = [str(g) for g in ray.get_gpu_ids()]
        self.env = {"CUDA_VISIBLE_DEVICES": "" if settings.device == "cpu" else ",".join(gpus)}
        self.where_info = {"name": name, "host": socket.gethostname(), "pid": os.getpid(), "gpus": gpus,
                           "node": ray.get_runtime_context().get_node_id()}
        self.verifier = self._verifier()

    def _verifier(self) -> Verifier:
        sandbox = Sandbox(os.path.join(self.cache_dir, f"device_ray_{self.name}"), env_extra=self.env)
        return Verifier(self.settings, self.cache_dir, sandbox=sandbox, env_extra=self.env)

    def where(self) -> dict[str, Any]:
        return {**self.where_info, "toolchain": get_plugin(self.dsl).toolchain_problem()}

    def call(self, method: str, *args: Any) -> tuple[str, Any]:
        try:
            return "ok", getattr(self.verifier, method)(*args)
        except WorkerError as error:  # the sandbox broke: a fresh verifier for the next job (as locally)
            self.verifier.close()
            self.verifier = self._verifier()
            return "error", (type(error).__name__, str(error), error.hint)
        except AkgError as error:
            return "error", (type(error).__name__, str(error), error.hint)

    def close(self) -> None:
        self.verifier.close()


def _unwrap(reply: tuple[str, Any]) -> Any:
    kind, value = reply
    if kind == "error":
        name, message, hint = value
        raise ERRORS.get(name, AkgError)(message, hint=hint)
    return value


def _lost_errors() -> tuple[type[BaseException], ...]:
    from ray import exceptions as rx

    return (rx.RayActorError, rx.WorkerCrashedError, rx.NodeDiedError, rx.ObjectLostError, rx.OwnerDiedError)


@dataclass
class ActorSlot:
    name: str
    handle: Any
    where: dict[str, Any]
    jobs: int = 0


class RayEvaluator(Evaluator):
    """The Evaluator interface over Ray actors (the local one's is over a DevicePool)."""

    def __init__(self, actor_class: Any, options: dict[str, Any], init_args: tuple[Any, ...], owns_ray: bool) -> None:
        self._actor_class, self._options, self._init_args = actor_class, options, init_args
        self._owns_ray = owns_ray
        self.slots: list[ActorSlot] = []
        self.lost: list[str] = []  # names of actors lost (their in-flight candidates were retried)
        self.retries = 0
        self.busy: set[str] = set()  # actors evaluating a candidate now
        self._started = 0
        self._starting = 0
        self._free: asyncio.Queue[ActorSlot] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- the cluster ---------------------------------------------------------------------------

    @classmethod
    def connect(cls, address: str, cache_dir: str, settings: VerifySettings, dsl: str, cpu_devices: int = 0) -> RayEvaluator:
        import ray

        owns = not ray.is_initialized()
        if owns:
            extra: dict[str, Any] = {"include_dashboard": False} if address == "local" else {}
            try:
                ray.init(address=address or None, log_to_driver=False, **extra)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConfigError(f"cannot connect to the Ray cluster at '{address}': {first[:200]}",
                                  hint="start one with `ray start --head` (then --ray-address auto), or pass --ray-address local") from None
        count, options = _device_actors(settings, cpu_devices, address)
        remote = ray.remote(DeviceHost)
        evaluator = cls(remote, options, (settings, cache_dir, dsl), owns)
        try:
            evaluator._start(count)
        except BaseException:
            evaluator.close()
            raise
        return evaluator

    def _new_actor(self) -> tuple[str, Any]:
        self._started += 1
        name = f"{self._started}"
        settings, cache_dir, dsl = self._init_args
        return name, self._actor_class.options(**self._options).remote(settings, cache_dir, name, dsl)

    def _start(self, count: int) -> None:
        import ray

        actors = [self._new_actor() for _ in range(count)]
        refs = [handle.where.remote() for _, handle in actors]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=START_TIMEOUT_S)
        for (name, handle), ref in zip(actors, refs, strict=True):
            if ref in ready:
                try:
                    self.slots.append(ActorSlot(name, handle, ray.get(ref)))
                    continue
                except _lost_errors():
                    pass
            ray.kill(handle)
        if not self.slots:
            raise ConfigError(f"no Ray device actor started within {START_TIMEOUT_S:.0f} s (asked for {count})",
                              hint="check `ray status`: the cluster needs room for one actor per device")
        problem = self.slots[0].where.get("toolchain")
        if problem:
            raise ToolchainError(f"on Ray node {self.slots[0].where['host']}: {problem}")

    @property
    def width(self) -> int:
        return len(self.slots)

    def describe(self) -> str:
        hosts = sorted({s.where["host"] for s in self.slots})
        return f"{len(self.slots)} Ray device actor(s) on {len(hosts)} node(s): {', '.join(hosts)}"

    # -- candidates (concurrent, one per actor) ------------------------------------------------

    def _queue(self) -> asyncio.Queue[ActorSlot]:
        loop = asyncio.get_running_loop()  # per event loop, as in DevicePool (a bench runs one loop per task)
        if self._free is None or self._loop is not loop:
            self._loop, self._free = loop, asyncio.Queue()
            for slot in self.slots:
                self._free.put_nowait(slot)
        return self._free

    async def _acquire(self) -> ActorSlot:
        queue = self._queue()
        while True:
            if not self.slots and not self._starting:
                raise WorkerError(f"every Ray device actor was lost ({', '.join(self.lost)})",
                                  hint="check `ray status`; the run resumes with `akg_cli resume RUN`")
            try:
                return await asyncio.wait_for(queue.get(), timeout=1.0)
            except asyncio.TimeoutError:
                continue

    def _drop(self, slot: ActorSlot) -> None:
        """The actor is gone: forget it and start a replacement wherever the cluster has room."""
        import ray

        if slot in self.slots:
            self.slots.remove(slot)
            self.lost.append(slot.name)
        ray.kill(slot.handle)
        name, handle = self._new_actor()
        self._starting += 1
        asyncio.get_running_loop().create_task(self._await_replacement(name, handle))

    async def _await_replacement(self, name: str, handle: Any) -> None:
        import ray

        failures: tuple[type[BaseException], ...] = (asyncio.TimeoutError, *_lost_errors())
        try:
            where = await asyncio.wait_for(handle.where.remote(), START_TIMEOUT_S)
        except failures:
            ray.kill(handle)  # no room anywhere: the pool goes on with the actors it has
            return
        finally:
            self._starting -= 1
        slot = ActorSlot(name, handle, where)
        self.slots.append(slot)
        self._queue().put_nowait(slot)

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        for _attempt in range(MAX_ATTEMPTS):
            slot = await self._acquire()
            self.busy.add(slot.name)
            try:
                reply = await slot.handle.call.remote("evaluate", task, candidate, profile)
            except _lost_errors():
                self.retries += 1
                self._drop(slot)
                continue
            except BaseException:
                self._queue().put_nowait(slot)
                raise
            finally:
                self.busy.discard(slot.name)
            slot.jobs += 1
            self._queue().put_nowait(slot)
            result: EvalResult = _unwrap(reply)
            return replace(result, candidate_id=candidate.id)
        return EvalResult(candidate.id, Status.RUNTIME_ERROR,
                          f"the Ray actor evaluating this candidate was lost {MAX_ATTEMPTS} times in a row "
                          "(does it exhaust the node's memory?)")

    # -- one-off calls (outside the workflow's loop) ---------------------------------------------

    def _call_one(self, method: str, *args: Any) -> Any:
        import ray

        for slot in list(self.slots):
            try:
                return _unwrap(ray.get(slot.handle.call.remote(method, *args)))
            except _lost_errors():
                self.slots.remove(slot)
                self.lost.append(slot.name)
        raise WorkerError(f"every Ray device actor was lost ({', '.join(self.lost)})")

    def reference(self, task: Task) -> ReferenceInfo:
        """Validate the task and compute references on every actor (each on its own node)."""
        import ray

        refs = [(slot, slot.handle.call.remote("reference", task)) for slot in self.slots]
        infos: list[ReferenceInfo] = []
        for slot, ref in refs:
            try:
                infos.append(_unwrap(ray.get(ref)))
            except _lost_errors():  # its replacement prepares the task with its first candidate
                self.slots.remove(slot)
                self.lost.append(slot.name)
        if not infos:
            raise WorkerError(f"every Ray device actor was lost ({', '.join(self.lost)})")
        return infos[0]

    def quick_eager_ms(self, task: Task) -> float:
        return float(self._call_one("quick_eager_ms", task))

    def fit_problem(self, task: Task) -> str | None:
        found: str | None = self._call_one("fit_problem", task)
        return found

    def race(self, task: Task, finalists: list[Candidate]) -> RaceOutcome:
        outcome: RaceOutcome = self._call_one("race", task, finalists)
        return outcome

    def close(self) -> None:
        import ray

        if not ray.is_initialized():
            return
        closing = [slot.handle.close.remote() for slot in self.slots]
        ray.wait(closing, num_returns=len(closing), timeout=30.0)
        for slot in self.slots:
            ray.kill(slot.handle)
        self.slots = []
        if self._owns_ray:
            ray.shutdown()


def _device_actors(settings: VerifySettings, cpu_devices: int, address: str) -> tuple[int, dict[str, Any]]:
    """How many device actors, and the resources each reserves."""
    import ray

    if settings.device != "cpu":
        gpus = int(ray.cluster_resources().get("GPU", 0))
        if gpus == 0:
            raise ConfigError(f"the Ray cluster at '{address or 'auto'}' has no GPUs for a {settings.device} DSL",
                              hint="start the GPU nodes with `ray start --num-gpus N`, or leave --ray-address out")
        return gpus, {"num_gpus": 1, "num_cpus": 1, "max_restarts": 0}
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    count = cpu_devices or max(nodes, 1)
    return count, {"num_cpus": max(settings.threads, 1), "max_restarts": 0, "scheduling_strategy": "SPREAD"}


__all__ = ["DeviceHost", "RayEvaluator"]
