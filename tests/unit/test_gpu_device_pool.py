"""Device pool semantics, with a stand-in verifier (no GPU, no sandbox process)."""

from __future__ import annotations

import asyncio
import time

import pytest

from akg_agents.errors import ConfigError, WorkerError
from akg_agents.records import Candidate, EvalResult, Status, Task
from akg_agents.runtime.device_pool import DevicePool, parse_devices
from akg_agents.verify.evaluate import VerifySettings


class FakeSandbox:
    def __init__(self, cache_dir: str, env: dict[str, str]) -> None:
        self.cache_dir, self.env, self.closed = cache_dir, env, False

    def close(self) -> None:
        self.closed = True


def test_parse_devices() -> None:
    assert parse_devices("0,1, 3") == ["0", "1", "3"]
    assert parse_devices([2]) == ["2"]
    assert parse_devices("cpu") == parse_devices(None) == ["cpu"]
    with pytest.raises(ConfigError):
        parse_devices("0,x")
    with pytest.raises(ConfigError):
        parse_devices("1,1")


def test_each_gpu_gets_its_own_sandbox_and_visible_device(tmp_path) -> None:
    pool = DevicePool.from_arg("0,1", str(tmp_path), VerifySettings(), preload=("triton",), sandbox_factory=FakeSandbox)
    envs = [slot.verifier.sandbox.env for slot in pool.slots]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1"]
    assert all(e["AKG_AGENTS_PRELOAD"] == "triton" for e in envs)
    assert [slot.verifier.settings.device for slot in pool.slots] == ["cuda", "cuda"]
    cpu = DevicePool.from_arg("cpu", str(tmp_path), VerifySettings(), sandbox_factory=FakeSandbox)
    assert cpu.size == 1 and cpu.slots[0].verifier.settings.device == "cpu"


def test_one_evaluation_per_device_at_a_time(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = DevicePool.from_arg("0,1", str(tmp_path), VerifySettings(), sandbox_factory=FakeSandbox)
    busy: dict[str, int] = {"0": 0, "1": 0}
    peak: dict[str, int] = {"0": 0, "1": 0}

    for slot in pool.slots:
        def evaluate(task, candidate, profile=True, _id=slot.device_id):
            busy[_id] += 1
            peak[_id] = max(peak[_id], busy[_id])
            time.sleep(0.05)
            busy[_id] -= 1
            return EvalResult(candidate.id, Status.PASSED, f"on {_id}")

        monkeypatch.setattr(slot.verifier, "evaluate", evaluate)

    task = Task(name="t", source="")

    async def run() -> list[EvalResult]:
        return await asyncio.gather(*[pool.evaluate(task, Candidate(id=str(i), dsl="cpp", code="")) for i in range(6)])

    start = time.perf_counter()
    results = asyncio.run(run())
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in results)
    assert peak == {"0": 1, "1": 1}  # never two jobs on one device
    assert {r.message for r in results} == {"on 0", "on 1"}  # both devices were used
    assert elapsed < 6 * 0.05  # and in parallel
    assert sum(slot.jobs for slot in pool.slots) == 6


def test_a_broken_sandbox_is_replaced(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    pool = DevicePool.from_arg("0", str(tmp_path), VerifySettings(), sandbox_factory=FakeSandbox)
    old = pool.slots[0]

    def broken(*args, **kwargs):
        raise WorkerError("the verification worker did not start")

    monkeypatch.setattr(old.verifier, "evaluate", broken)
    with pytest.raises(WorkerError):
        asyncio.run(pool.evaluate(Task(name="t", source=""), Candidate(id="c", dsl="cpp", code="")))
    assert old.verifier.sandbox.closed
    assert pool.slots[0] is not old and not pool.slots[0].verifier.sandbox.closed
