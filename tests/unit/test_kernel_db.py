"""The kernel database: schema, lineage, dedupe keys, and a search killed with SIGKILL that a
resumed run finishes without losing or re-evaluating anything."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from search_fakes import FakeEvaluator, context, search

from akg_agents.records import Candidate, EvalResult, ProfileResult, Status, Timing
from akg_agents.store.kernel_db import KernelDB, db_path, normalized_digest
from akg_agents.store.rundir import RunStore

HERE = Path(__file__).resolve().parent


def passed(cid: str, ms: float) -> EvalResult:
    return EvalResult(cid, Status.PASSED, "ok", profile=ProfileResult(Timing(ms, 0.0, 3), Timing(1.0, 0.0, 3)))


def test_schema_has_every_column_the_issue_names(tmp_path: Path) -> None:
    KernelDB(tmp_path / "k.sqlite").close()
    conn = sqlite3.connect(tmp_path / "k.sqlite")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(kernels)")}
    assert {"key", "run", "candidate_id", "parents", "generation", "params", "params_key", "code", "state", "status",
            "speedup", "candidate_ms", "eager_ms", "evidence", "result", "timings", "island"} <= columns
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_lineage_generations_and_results(tmp_path: Path) -> None:
    db = KernelDB(tmp_path / "k.sqlite")
    root = db.propose(Candidate("a", "cpp", "A = 1\n", params={"x": 1}), "run1")
    child = db.propose(Candidate("b", "cpp", "A = 2\n", agent="kernel_gen"), "run1", parents=(root.key,), island=1)
    grandchild = db.propose(Candidate("c", "cpp", "A = 3\n"), "run2", parents=(child.key,))
    assert (root.generation, child.generation, grandchild.generation) == (0, 1, 2)
    db.record(grandchild.key, passed("c", 0.5))
    db.record(root.key, EvalResult("a", Status.MISMATCH, "wrong", log_tail="index 3"))
    assert [e.candidate_id for e in db.lineage(grandchild.key)] == ["c", "b", "a"]
    best = db.best(5)
    assert [e.candidate_id for e in best] == ["c"] and best[0].speedup == 2.0
    assert "index 3" in db.get(root.key).evidence and db.result(root.key).status is Status.MISMATCH
    assert db.by_params({"x": 1}).key == root.key and db.by_params({}) is None
    # The same code reformatted is the same kernel: proposing it returns the known row.
    again = db.propose(Candidate("d", "cpp", "# a comment\nA  =  3\n"), "run3")
    assert again.key == grandchild.key and again.candidate_id == "c" and len(db.entries()) == 3
    assert normalized_digest("A = 3") == normalized_digest("A=3  # same")


def test_one_database_per_task_and_target(tmp_path: Path) -> None:
    from dataclasses import replace

    from akg_agents.records import RunConfig, Task

    config = RunConfig("torch", "cpu", "x86_64", "cpp", "evolve", "builtin")
    task = Task("relu", "x = 1\n")
    assert db_path(tmp_path, task, config) == db_path(tmp_path, Task("relu", "x = 1\n", path="elsewhere"), config)
    assert db_path(tmp_path, task, config) != db_path(tmp_path, Task("relu", "x = 2\n"), config)
    assert db_path(tmp_path, task, config) != db_path(tmp_path, task, replace(config, precision="bf16"))


def _wait_for(predicate, seconds: float = 120.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "the child search made no progress"
        time.sleep(0.05)


def _done(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    conn = sqlite3.connect(db_file, timeout=10)
    try:
        return int(conn.execute("SELECT COUNT(*) FROM kernels WHERE state='done'").fetchone()[0])
    except sqlite3.OperationalError:  # the child has not created the table yet
        return 0
    finally:
        conn.close()


def test_a_search_killed_with_sigkill_resumes_losing_nothing(tmp_path: Path) -> None:
    db_file, budget = tmp_path / "kernels" / "k.sqlite", 12
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, str(HERE / "search_fakes.py"), str(tmp_path), str(db_file), str(budget), "0.2"],
                             stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    run_dir = Path(child.stdout.readline().strip())
    _wait_for(lambda: _done(db_file) >= 4)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL

    db = KernelDB(db_file)
    before = {e.key: e for e in db.entries(state="done")}
    assert 4 <= len(before) < budget
    recorded = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines() if line.strip()]
    assert {normalized_digest(r["candidate"]["code"]) for r in recorded} >= set(before)  # results.jsonl has every one

    evaluator = FakeEvaluator()
    ctx = context(run_dir, evaluator, budget)
    asyncio.run(search(ctx, db, "ucb", budget).run())
    after = db.entries(run=str(run_dir.resolve()))
    assert all(e.state == "done" for e in after)
    assert len(after) == budget  # the killed run's evaluations count against the same budget
    assert not {normalized_digest(code) for code in evaluator.calls} & set(before)  # none evaluated again
    assert all(db.get(key).status == entry.status for key, entry in before.items())
    ids = [e.candidate_id for e in after]
    assert len(ids) == len(set(ids))  # ids unique across the resume
    store = RunStore.open(run_dir)
    assert {normalized_digest(c.code) for c, _ in store.results.values()} == {e.key for e in after}
