"""The GPU cheating corpus: every file in cheats/ declares the verdict the verifier must reach.

Each file opens with comment lines of the form `# key: value`:
- `# expect: <status> [rule]` (line 1, required), as in tests/unit/cheats;
- `# task: NAME`: a file of tests/fixtures/tasks (default relu_small.py);
- `# dsl: NAME`: the candidate's DSL (default triton_cuda);
- `# min-ms: X`: the timed median must be at least X ms (the timer must see work that the
  candidate hid from it, e.g. on a side stream).
tests/unit/test_gpu_cheats_static.py checks, without a GPU, that every file here is well formed
and passes the static rules (so each cheat really reaches the runtime checks).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from akg_agents.records import Candidate, Status
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

pytestmark = pytest.mark.gpu

CHEATS = Path(__file__).parent / "cheats"
FIXTURES = Path(__file__).parents[1] / "fixtures" / "tasks"
SETTINGS = VerifySettings(device="cuda", timeout_s=240.0, warmup_times=3, run_times=10)
HEADER_KEYS = {"expect", "task", "dsl", "min-ms"}


def header(path: Path) -> dict[str, str]:
    """The `# key: value` lines at the top of a cheat file."""
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.removeprefix("# ").partition(":")
        if not line.startswith("# ") or not sep or key not in HEADER_KEYS:
            break
        fields[key] = value.strip()
    return fields


@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Verifier]:
    v = Verifier(SETTINGS, str(tmp_path_factory.mktemp("gpu_cheats_cache")))
    yield v
    v.close()


@pytest.mark.parametrize("path", sorted(CHEATS.glob("*.py")), ids=lambda p: p.stem)
def test_verifier_reaches_the_declared_verdict(verifier: Verifier, path: Path) -> None:
    fields = header(path)
    status, *rule = fields["expect"].split()
    task = load_task(FIXTURES / fields.get("task", "relu_small.py"))
    candidate = Candidate(path.stem, fields.get("dsl", "triton_cuda"), path.read_text(), agent="user")
    result = verifier.evaluate(task, candidate)
    assert result.status == Status(status), result.feedback()
    if rule:
        assert result.rule == rule[0], result.feedback()
    if result.status is not Status.PASSED:
        assert result.message, "a failed candidate must say why"
    if "min-ms" in fields:
        assert result.profile is not None, result.feedback()
        median = result.profile.candidate.median_ms
        assert median >= float(fields["min-ms"]), f"timed median {median:.4f} ms: the timer missed hidden work"
