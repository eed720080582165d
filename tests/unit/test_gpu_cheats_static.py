"""The GPU cheating corpus (tests/gpu/cheats), checked without a GPU: every file declares a
verdict and a fixture task that exist, and passes the static rules of its DSL, so each cheat is
judged by the runtime checks (tests/gpu/test_gpu_cheats.py runs them on a GPU)."""

from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.dsl import get_plugin
from akg_agents.records import Status
from akg_agents.verify.static import check_source

TESTS = Path(__file__).parents[1]
GPU_CHEATS = sorted((TESTS / "gpu" / "cheats").glob("*.py"))
FIXTURES = TESTS / "fixtures" / "tasks"
HEADER_KEYS = {"expect", "task", "dsl", "min-ms"}


def header(path: Path) -> dict[str, str]:
    """The `# key: value` lines at the top of a cheat file (same reading as the GPU driver)."""
    fields: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.removeprefix("# ").partition(":")
        if not line.startswith("# ") or not sep or key not in HEADER_KEYS:
            break
        fields[key] = value.strip()
    return fields


def test_the_gpu_corpus_is_there() -> None:
    assert len(GPU_CHEATS) >= 8


@pytest.mark.parametrize("path", GPU_CHEATS, ids=lambda p: p.stem)
def test_gpu_cheat_is_well_formed_and_passes_the_static_rules(path: Path) -> None:
    fields = header(path)
    assert path.read_text().startswith("# expect: "), "line 1 must be `# expect: <status> [rule]`"
    Status(fields["expect"].split()[0])
    assert (FIXTURES / fields.get("task", "relu_small.py")).exists()
    if "min-ms" in fields:
        assert float(fields["min-ms"]) > 0
    _, violations = check_source(path.read_text(), get_plugin(fields.get("dsl", "triton_cuda")))
    assert violations == [], violations
