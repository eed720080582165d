"""The built-in generator's memo (opt-in, for a process comparing workflows on one task), and the
GPU search benchmark's pure helpers: its journal survives a cut line, the search window is read
from a run's events, and the summary reports the ratios."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from akg_agents.records import Candidate, Task
from akg_agents.workflows import builtin_search

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_the_space_is_traced_once_per_key_only_when_the_memo_is_on(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []

    def fake(task: Task, dsl: str, count: int, threads: int = 0, precision: str = "fp32") -> list[Candidate]:
        calls.append((task.name, count))
        return [Candidate(id=f"b{i}", dsl=dsl, code=f"K = {i}\n", agent="builtin") for i in range(count)]

    monkeypatch.setattr(builtin_search.isolated, "generate_isolated", fake)
    task, other = Task(name="t", source="a = 1\n"), Task(name="u", source="a = 2\n")
    monkeypatch.setattr(builtin_search, "SPACE_CACHE", None)
    builtin_search.builtin_space(task, "cpp", 3, 0)
    builtin_search.builtin_space(task, "cpp", 3, 0)
    assert calls == [("t", 3), ("t", 3)]  # off by default: traced every time
    monkeypatch.setattr(builtin_search, "SPACE_CACHE", {})
    calls.clear()
    first = builtin_search.builtin_space(task, "cpp", 3, 0)
    first.pop()  # the caller's list, not the memo's
    assert len(builtin_search.builtin_space(task, "cpp", 3, 0)) == 3
    builtin_search.builtin_space(task, "cpp", 5, 0)
    builtin_search.builtin_space(other, "cpp", 3, 0)
    assert calls == [("t", 3), ("t", 5), ("u", 3)]


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.syspath_prepend(str(BENCH))
    import search_gpu

    yield search_gpu
    sys.modules.pop("search_gpu", None)


def test_the_journal_keeps_every_whole_line_and_drops_a_cut_one(tmp_path: Path, bench) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.jsonl"
    journal = bench.Journal(path)
    journal.add({"kind": "search", "task": "a", "workflow": "default", "budget": 3})
    with open(path, "a") as handle:
        handle.write('{"kind": "search", "task": "b", "work')  # killed mid-write
    again = bench.Journal(path)
    assert [r["task"] for r in again.rows] == ["a"]
    assert again.find("search", task="a", workflow="default", budget=3) is not None
    assert again.find("search", task="b") is None


def test_the_search_window_runs_from_the_space_to_the_stop_event(tmp_path: Path, bench) -> None:  # type: ignore[no-untyped-def]
    events = [{"t": 100.0, "event": "task_validated"}, {"t": 101.0, "event": "search_space"},
              {"t": 105.0, "event": "search_result"}, {"t": 106.0, "event": "search_stop", "evaluations": 8,
                                                        "reason": "budget"}, {"t": 109.0, "event": "race"}]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    window = bench.search_window(tmp_path)
    assert window["evaluations"] == 8 and window["search_s"] == 5.0 and window["evals_per_s"] == 1.6


def test_the_summary_gives_the_ratio_vs_default_and_the_throughput_ratio(tmp_path: Path, bench) -> None:  # type: ignore[no-untyped-def]
    args = bench.parse_args(["--kb", str(tmp_path), "--out", str(tmp_path), "--budget", "4"])
    journal = bench.Journal(tmp_path / "m.jsonl")
    for task, speeds in {"a": (1.0, 1.5, 2.0), "b": (2.0, 2.0, 2.0)}.items():
        for workflow, speedup in zip(bench.WORKFLOWS, speeds, strict=True):
            journal.add({"kind": "search", "task": task, "workflow": workflow, "budget": 4, "status": "correct",
                         "speedup": speedup, "candidates": 4})
    journal.add({"kind": "throughput", "devices": "1", "device_ids": [0], "repeat": 0, "task": "a", "status": "correct",
                 "evals_per_s": 0.5})
    journal.add({"kind": "throughput", "devices": "2", "device_ids": [0, 1], "repeat": 0, "task": "a",
                 "status": "correct", "evals_per_s": 0.9})
    data = bench.write_summary(args, journal)
    assert data["search"]["ratio_vs_default"]["adaptive_search"] == pytest.approx(2.0**0.5)
    assert data["search"]["ratio_vs_default"]["evolve"] == pytest.approx(1.5**0.5)
    assert data["throughput"]["ratio"] == pytest.approx(1.8)
    assert "1.800x" in (tmp_path / "summary.md").read_text()


def test_paired_ratios_divide_within_each_race_and_report_the_control(bench) -> None:  # type: ignore[no-untyped-def]
    from search_workflows import paired_ratios

    retimed = [{"task": "a", "speedups": {"default": [1.0, 2.0, 4.0], "evolve": [1.5, 2.0, 8.0],
                                          "control": [1.0, 2.2, 4.0]}},
               {"task": "b", "speedups": {"default": [1.0], "evolve": [0.5]}}]
    paired = paired_ratios(retimed, bench.WORKFLOWS)
    # Race by race the load moved speedups 4x; the ratios within the races did not: 1.5, 1.0, 2.0.
    assert paired["tasks"]["a"] == {"evolve": 1.5, "control": 1.0}
    assert paired["geomean"]["evolve"] == pytest.approx((1.5 * 0.5) ** 0.5)
    assert paired["count"] == {"evolve": 2, "adaptive_search": 0, "control": 1}
    assert "adaptive_search" not in paired["geomean"]
