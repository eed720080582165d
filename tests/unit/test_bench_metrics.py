"""Bench metric math: fast_p counts over ALL tasks, geomean over correct ones, nothing divides by zero."""

from __future__ import annotations

import json
import math

import pytest

from akg_agents.bench.collect import best_so_far, usage
from akg_agents.bench.metrics import CORRECT, DECLINED, ERROR, INCORRECT, TaskResult, compute, fast_p, geomean


def task(name: str, status: str = CORRECT, speedup: float | None = None, compiled: float | None = None) -> TaskResult:
    return TaskResult(name=name, status=status, speedup=speedup, speedup_compile=compiled)


SUITE = [
    task("a", speedup=2.0), task("b", speedup=1.0), task("c", speedup=0.5), task("d", INCORRECT),
    task("e", DECLINED), task("f", ERROR),
]


def test_fast_p_is_over_all_tasks_and_strictly_above_p() -> None:
    assert fast_p(SUITE, 0.0) == pytest.approx(3 / 6)
    assert fast_p(SUITE, 0.5) == pytest.approx(2 / 6)  # 0.5 itself is not "above 0.5"
    assert fast_p(SUITE, 1.0) == pytest.approx(1 / 6)  # a 1.00x tie is not faster
    assert fast_p(SUITE, 2.0) == 0.0


def test_a_speedup_on_an_incorrect_task_never_counts() -> None:
    cheat = [TaskResult(name="x", status=INCORRECT, speedup=50.0)]
    assert fast_p(cheat, 1.0) == 0.0
    assert compute(cheat).geomean is None


def test_geomean_is_over_correct_tasks_only() -> None:
    metrics = compute(SUITE)
    assert metrics.geomean == pytest.approx(1.0)  # (2 * 1 * 0.5) ** (1/3)
    assert metrics.correct == 3 and metrics.tasks == 6
    assert metrics.correctness == pytest.approx(0.5)
    assert metrics.declined == 1 and metrics.errors == 1


def test_geomean_values() -> None:
    assert geomean([4.0, 1.0]) == pytest.approx(2.0)
    assert geomean([]) is None
    assert math.isclose(geomean([3.0]) or 0, 3.0)


def test_no_correct_tasks_and_no_tasks_at_all() -> None:
    failed = compute([task("a", INCORRECT), task("b", DECLINED)])
    assert failed.correct == 0 and failed.correctness == 0.0
    assert all(v == 0.0 for v in failed.fast_p.values())
    assert failed.geomean is None and failed.fast_p_compile is None
    empty = compute([])
    assert empty.tasks == 0 and empty.correctness == 0.0 and empty.geomean is None


def test_compile_baseline_metrics_only_when_timed() -> None:
    results = [task("a", speedup=2.0, compiled=0.8), task("b", speedup=1.2, compiled=1.6), task("c", INCORRECT)]
    metrics = compute(results)
    assert metrics.fast_p_compile is not None
    assert metrics.fast_p_compile[1.0] == pytest.approx(1 / 3)
    assert metrics.geomean_compile == pytest.approx(math.sqrt(0.8 * 1.6))
    assert compute(SUITE).fast_p_compile is None


def test_best_so_far_and_usage(tmp_path) -> None:
    assert best_so_far([None, 0.5, None, 1.5, 1.2]) == [0.0, 0.5, 0.5, 1.5, 1.5]
    assert usage(tmp_path) == (0, 0.0)  # the built-in generator makes no calls
    total = {"calls": 2, "prompt_tokens": 300, "completion_tokens": 100, "cost_usd": 0.03}
    (tmp_path / "llm_usage.json").write_text(json.dumps({"total": total, "by_agent": {"kernel_gen": total}}))
    # The run's events carry the same usage twice (per call and as the run's total): not read.
    (tmp_path / "events.jsonl").write_text(json.dumps({"event": "llm_usage", **total}) + "\n")
    tokens, cost = usage(tmp_path)
    assert tokens == 400 and cost == pytest.approx(0.03)
