"""Evaluation on Ray actors: a local cluster on loopback with two CPU "devices".

The actors host the same per-device verifier as the local pool, so the verdicts must be the same;
a killed actor's candidate is evaluated again on another actor and nothing already verified is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from akg_agents.records import Candidate, Status
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import VerifySettings

ray = pytest.importorskip("ray")
from akg_agents.runtime.ray_pool import RayEvaluator  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TASK = load_task(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
SETTINGS = VerifySettings(device="cpu", threads=1, run_times=3, warmup_times=1)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    yield
    ray.shutdown()


@pytest.fixture()
def ray_evaluator(cluster: None, cache_dir: Path) -> Iterator[RayEvaluator]:
    evaluator = RayEvaluator.connect("", str(cache_dir), SETTINGS, "cpp", cpu_devices=2)
    yield evaluator
    evaluator.close()


RELU = '''import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

CPP_SOURCE = r"""
#include <cstdint>
extern "C" void relu_k(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) { float v = x[i]; y[i] = v < 0.0f ? 0.0f : v; }
}
"""
_lib = load_cpp(CPP_SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_k(x, y, x.numel() - SHORT)
        return y
'''


def _candidates() -> list[Candidate]:
    good = Candidate("good", "cpp", RELU.replace("SHORT", "0"))
    wrong = Candidate("wrong", "cpp", RELU.replace("SHORT", "1"))  # the last element is never written
    cheat = Candidate("cheat", "cpp", "import torch\nclass ModelNew(torch.nn.Module):\n"
                      "    def forward(self, x):\n        return torch.relu(x)\n")
    return [good, wrong, cheat]


async def _all(evaluator: Evaluator, candidates: list[Candidate], profile: bool) -> list[Status]:
    results = await asyncio.gather(*(evaluator.evaluate(TASK, c, profile) for c in candidates))
    assert [r.candidate_id for r in results] == [c.id for c in candidates]
    return [r.status for r in results]


def test_ray_actors_give_the_local_pools_verdicts(ray_evaluator: RayEvaluator, cache_dir: Path) -> None:
    assert ray_evaluator.width == 2
    assert all(slot.where["gpus"] == [] for slot in ray_evaluator.slots)
    candidates = _candidates()
    local = Evaluator(DevicePool(["cpu"], str(cache_dir), SETTINGS))
    try:
        expected = asyncio.run(_all(local, candidates, profile=False))
        local_info = local.reference(TASK)
    finally:
        local.close()
    assert expected[0] is Status.PASSED and expected[1] is not Status.PASSED and expected[2] is Status.REJECTED
    info = ray_evaluator.reference(TASK)
    assert (info.input_shapes, info.output_shapes) == (local_info.input_shapes, local_info.output_shapes)
    assert asyncio.run(_all(ray_evaluator, candidates, profile=False)) == expected
    profiled = asyncio.run(ray_evaluator.evaluate(TASK, candidates[0], profile=True))
    assert profiled.ok and profiled.profile is not None and profiled.profile.timed_checked > 0
    assert sum(slot.jobs for slot in ray_evaluator.slots) == 4


def test_a_killed_actors_candidate_is_evaluated_elsewhere(ray_evaluator: RayEvaluator) -> None:
    good = _candidates()[0]
    other = Candidate("other", "cpp", good.code + "\n# another copy\n")

    async def scenario() -> list[Status]:
        first = await ray_evaluator.evaluate(TASK, good, profile=False)  # verified before the loss
        doomed = asyncio.ensure_future(ray_evaluator.evaluate(TASK, other, profile=False))
        deadline = time.monotonic() + 60
        while not ray_evaluator.busy and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        (victim,) = ray_evaluator.busy
        ray.kill(next(slot.handle for slot in ray_evaluator.slots if slot.name == victim))
        second = await doomed
        return [first.status, second.status]

    assert asyncio.run(scenario()) == [Status.PASSED, Status.PASSED]
    assert ray_evaluator.retries == 1 and len(ray_evaluator.lost) == 1
    assert ray_evaluator.lost[0] not in {slot.name for slot in ray_evaluator.slots}
