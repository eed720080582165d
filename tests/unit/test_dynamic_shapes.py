from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from akg_agents.builtin.generator import generate
from akg_agents.records import Candidate, Status
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

FIXTURES = Path(__file__).parents[1] / "fixtures" / "tasks"
HONEST = (Path(__file__).parent / "cheats" / "honest.py").read_text()


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    v = Verifier(VerifySettings(threads=1, timeout_s=30, warmup_times=1, run_times=3), str(cache_dir))
    yield v
    v.close()


def test_every_shape_case_is_verified(verifier: Verifier) -> None:
    task = load_task(FIXTURES / "relu_dyn.py")
    assert verifier.reference(task).cases == ["seed0", "seed1", "seed2", "dyn0", "dyn1"]
    result = verifier.evaluate(task, Candidate("honest", "cpp", HONEST))
    assert result.status is Status.PASSED and "2 dynamic-shape cases" in result.message


def test_a_kernel_hardcoding_the_shape_fails_on_another_case(verifier: Verifier) -> None:
    hardcoded = HONEST.replace("x.numel())", "32 * 128)")
    result = verifier.evaluate(load_task(FIXTURES / "relu_dyn.py"), Candidate("fixed", "cpp", hardcoded))
    assert result.status is not Status.PASSED
    assert "dynamic-shape case" in result.message or result.status is Status.RUNTIME_ERROR


def test_builtin_kernels_follow_the_runtime_shape(verifier: Verifier) -> None:
    task = load_task(FIXTURES / "relu_dyn.py")
    candidate = generate(task, "cpp", 1, threads=1)[0]
    assert verifier.evaluate(task, candidate).status is Status.PASSED
