"""A task whose every candidate timed out is `timeout`, not `incorrect`: on a loaded machine a slow
candidate runs out of time without being wrong, and the tally must not say it was shown wrong."""

from __future__ import annotations

from pathlib import Path

from akg_agents.bench.collect import task_result
from akg_agents.bench.metrics import INCORRECT, TIMED_OUT, compute
from akg_agents.bench.tables import lists, metrics_table
from akg_agents.records import Candidate, EvalResult, RunConfig, Status, Task
from akg_agents.store.rundir import RunStore

CONFIG = RunConfig(framework="torch", backend="cpu", arch="x86_64", dsl="cpp", workflow="default", model="builtin")
TIMEOUT = "no result within 60 s (hang or infinite loop?)"


def _run(tmp_path: Path, statuses: list[Status]) -> Path:
    store = RunStore.create(str(tmp_path / "runs"), CONFIG, Task(name="relu", source="# t\n"))
    for index, status in enumerate(statuses):
        candidate = Candidate(id=f"c{index}", dsl="cpp", code=f"# kernel {index}\n", agent="builtin", step=index)
        store.record(candidate, EvalResult(candidate.id, status, TIMEOUT if status == Status.TIMEOUT else "worst error 1.0"))
    return store.root


def test_every_candidate_timed_out(tmp_path: Path) -> None:
    result = task_result(_run(tmp_path, [Status.TIMEOUT, Status.TIMEOUT]), "relu")
    assert result.status == TIMED_OUT and "every candidate (2) timed out" in result.reason
    metrics = compute([result])
    assert metrics.correct == 0 and metrics.timeouts == 1
    assert "| timed out (every candidate) | 1 |" in metrics_table(metrics)
    assert "none was shown wrong" in lists([result])


def test_a_wrong_candidate_makes_the_task_incorrect(tmp_path: Path) -> None:
    result = task_result(_run(tmp_path, [Status.TIMEOUT, Status.MISMATCH]), "relu")
    assert result.status == INCORRECT and compute([result]).timeouts == 0
