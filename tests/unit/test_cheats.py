"""The cheating corpus: every file in cheats/ declares the verdict the verifier must reach.

A new way to fool the verifier gets a file here, with `# expect: <status> [rule]` on line 1 and,
optionally, `# task: NAME` on line 2 (a file of tests/fixtures/tasks; relu_small.py by default).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from akg_agents.records import Candidate, Status
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

CHEATS = Path(__file__).parent / "cheats"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "tasks"
TASK = FIXTURES / "relu_small.py"


def expectation(path: Path) -> tuple[str, str | None]:
    words = path.read_text().splitlines()[0].removeprefix("# expect:").split()
    return words[0], (words[1] if len(words) > 1 else None)


def task_of(path: Path) -> Path:
    """The fixture task a cheat runs on: `# task: NAME` on line 2, else relu_small.py."""
    lines = path.read_text().splitlines()
    if len(lines) > 1 and lines[1].startswith("# task:"):
        return FIXTURES / lines[1].removeprefix("# task:").strip()
    return TASK


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    settings = VerifySettings(threads=1, timeout_s=8.0, memory_mb=2048, warmup_times=1, run_times=3)
    v = Verifier(settings, str(cache_dir))
    yield v
    v.close()


@pytest.mark.parametrize("path", sorted(CHEATS.glob("*.py")), ids=lambda p: p.stem)
def test_verifier_reaches_the_declared_verdict(verifier: Verifier, path: Path) -> None:
    status, rule = expectation(path)
    result = verifier.evaluate(load_task(task_of(path)), Candidate(path.stem, "cpp", path.read_text(), agent="user"))
    assert result.status == Status(status), result.feedback()
    if rule is not None:
        assert result.rule == rule, result.feedback()
    if result.status is not Status.PASSED:
        assert result.message, "a failed candidate must say why"


KNOWN_HOLES = Path(__file__).parent / "cheats_known_holes"


@pytest.mark.xfail(strict=True, reason="known hole: native code inside the worker subverts its own bookkeeping "
                   "(needs an OS sandbox: separate uid, seccomp, private /tmp); see the file's comments")
def test_known_holes_still_fool_the_verifier(verifier: Verifier) -> None:
    """Each known hole must still pass (xfail). When one is closed this test XPASSes and fails:
    then move the file into cheats/ with its real verdict."""
    record, replay, relay = (KNOWN_HOLES / f"{n}.py" for n in ("r2_pool_cache_1_record", "r2_pool_cache_2_replay", "r2_socket_relay_fixup"))
    verdicts = []
    for path in (record, replay, relay):  # record before replay: the replay reads what record wrote
        result = verifier.evaluate(load_task(task_of(path)), Candidate(path.stem, "cpp", path.read_text(), agent="user"))
        verdicts.append(result.status)
    assert verdicts[1:] != [Status.PASSED, Status.PASSED], "both holes are still open"


def test_compile_error_carries_the_compiler_log(verifier: Verifier) -> None:
    path = CHEATS / "compile_error.py"
    result = verifier.evaluate(load_task(TASK), Candidate("ce", "cpp", path.read_text()))
    assert "undeclared_name" in result.log_tail


def test_mismatch_names_the_worst_element(verifier: Verifier) -> None:
    result = verifier.evaluate(load_task(TASK), Candidate("wm", "cpp", (CHEATS / "wrong_math.py").read_text()))
    assert result.mismatch is not None
    assert result.mismatch.expected == 0.0 and result.mismatch.actual < 0.0
    assert len(result.mismatch.element) == 2
    assert "worst mismatch" in result.feedback()


def test_segfault_is_named(verifier: Verifier) -> None:
    result = verifier.evaluate(load_task(TASK), Candidate("sf", "cpp", (CHEATS / "segfault.py").read_text()))
    assert "SIGSEGV" in result.message


def test_the_worker_survives_a_crash(verifier: Verifier) -> None:
    task = load_task(TASK)
    verifier.evaluate(task, Candidate("sf2", "cpp", (CHEATS / "segfault.py").read_text()))
    after = verifier.evaluate(task, Candidate("ok", "cpp", (CHEATS / "honest.py").read_text()))
    assert after.status is Status.PASSED
