"""The bench directory: results stream into SQLite and JSONL as tasks finish, so a killed bench resumes.

    <bench>/bench.db        SQLite (stdlib sqlite3): meta (config, suite) and one row per task
    <bench>/results.jsonl   one TaskResult per finished task, in finishing order, fsynced
    <bench>/runs/<task>/    the task's run directory (the same as `akg_cli op` writes)
    <bench>/summary.md|json the metrics table, rewritten at the end of every bench

A task row moves pending -> running -> done. The database is the truth: a task is `done` only
once its result is committed there, and results.jsonl is reconciled from it when a bench is
reopened (a kill between the two writes loses no line and duplicates none).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from akg_agents.bench.metrics import TaskResult
from akg_agents.errors import ConfigError, RunStoreError
from akg_agents.records import RunConfig, Task, from_json, to_dict, to_json

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    name TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    path TEXT NOT NULL,
    source TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',   -- pending | running | done
    attempts INTEGER NOT NULL DEFAULT 0,     -- times a worker started (or resumed) this task
    started_at REAL,
    finished_at REAL,
    wall_s REAL NOT NULL DEFAULT 0,          -- summed over attempts
    run_dir TEXT,
    result TEXT                              -- TaskResult as JSON, once done
);
"""
DB_NAME = "bench.db"


class BenchDB:
    """Thread-safe: one connection, one lock (workers of several devices record through it)."""

    def __init__(self, root: Path, name: str = DB_NAME) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(root / name, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)

    # -- creation and reopening ----------------------------------------------------------------

    @classmethod
    def exists(cls, root: Path) -> bool:
        return (root / DB_NAME).exists()

    @classmethod
    def open(cls, root: Path) -> BenchDB:
        if not cls.exists(root):
            raise RunStoreError(f"{root} is not a bench directory (no {DB_NAME})")
        db = cls(root)
        db.reconcile_jsonl()
        return db

    @classmethod
    def create_or_continue(cls, root: Path, config: RunConfig, suite: str, tasks: list[Task]) -> BenchDB:
        """A new bench, or the same bench continued (same config): tasks not yet known are added."""
        root.mkdir(parents=True, exist_ok=True)
        if not cls.exists(root):
            cls._create(root, config, suite, tasks)
            return cls(root)
        db = cls(root)
        old = db.config()
        if to_dict(old) != to_dict(config):
            db.close()
            raise ConfigError(
                f"{root} holds a bench with other settings; continue it with `akg_cli bench --resume {root}` "
                "or choose a new --output"
            )
        db.reconcile_jsonl()
        db.add_tasks(tasks)
        return db

    @classmethod
    def _create(cls, root: Path, config: RunConfig, suite: str, tasks: list[Task]) -> None:
        """Written whole under another name, then renamed: a bench killed while it is being set up
        leaves no bench.db without its settings (which `--resume` could not continue)."""
        staging = DB_NAME + ".new"
        for leftover in (staging, staging + "-wal", staging + "-shm"):
            (root / leftover).unlink(missing_ok=True)
        db = cls(root, staging)
        try:
            db._set_meta(config=to_json(config), suite=suite, created=str(time.time()))
            db.add_tasks(tasks)
        finally:
            db.close()  # the last connection checkpoints the WAL into the file
        os.replace(root / staging, root / DB_NAME)

    def close(self) -> None:
        self._conn.close()

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        """Reads take the lock too: one sqlite connection used by two threads at once fails
        ("bad parameter or other API misuse"), as two device workers did on a 2-GPU bench."""
        with self._lock:
            rows: list[Any] = self._conn.execute(sql, params).fetchall()
            return rows

    def _set_meta(self, **values: str) -> None:
        with self._lock:
            for key, value in values.items():
                self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str:
        row = next(iter(self._read("SELECT value FROM meta WHERE key = ?", (key,))), None)
        if row is None:
            raise RunStoreError(f"{self.root / DB_NAME} has no '{key}' (not written by akg_cli bench?)")
        return str(row[0])

    def config(self) -> RunConfig:
        return from_json(RunConfig, self.meta("config"))

    def add_tasks(self, tasks: list[Task]) -> None:
        with self._lock:
            start = self._conn.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM tasks").fetchone()[0]
            for offset, task in enumerate(tasks):
                self._conn.execute(
                    "INSERT OR IGNORE INTO tasks (name, position, path, source) VALUES (?, ?, ?, ?)",
                    (task.name, start + offset, task.path, task.source),
                )

    # -- task states ---------------------------------------------------------------------------

    def unfinished(self) -> list[tuple[Task, str, str | None]]:
        """(task, state, run_dir) for every task not done, in suite order."""
        rows = self._read(
            "SELECT name, path, source, state, run_dir FROM tasks WHERE state != 'done' ORDER BY position"
        )
        return [(Task(name=n, source=s, path=p), state, run_dir) for n, p, s, state, run_dir in rows]

    def mark_running(self, name: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE tasks SET state = 'running', attempts = attempts + 1, started_at = ? WHERE name = ?",
                (time.time(), name),
            )

    def set_run_dir(self, name: str, run_dir: str) -> None:
        with self._lock:
            self._conn.execute("UPDATE tasks SET run_dir = ? WHERE name = ?", (run_dir, name))

    def add_wall(self, name: str, seconds: float) -> None:
        """Time spent by an attempt that did not finish (counted into the task's wall time)."""
        with self._lock:
            self._conn.execute("UPDATE tasks SET wall_s = wall_s + ? WHERE name = ?", (max(seconds, 0.0), name))

    def prior_wall(self, name: str) -> float:
        row = next(iter(self._read("SELECT wall_s FROM tasks WHERE name = ?", (name,))), None)
        return float(row[0]) if row else 0.0

    def started_at(self, name: str) -> float | None:
        row = next(iter(self._read("SELECT started_at FROM tasks WHERE name = ?", (name,))), None)
        return float(row[0]) if row and row[0] is not None else None

    def mark_done(self, result: TaskResult) -> None:
        """Commit the result, then append it to results.jsonl (reconciled on reopen if killed between)."""
        with self._lock:
            self._conn.execute(
                "UPDATE tasks SET state = 'done', finished_at = ?, wall_s = ?, run_dir = ?, result = ? WHERE name = ?",
                (time.time(), result.wall_s, result.run_dir, to_json(result), result.name),
            )
            _append_line(self.root / "results.jsonl", to_json(result))

    # -- reading back --------------------------------------------------------------------------

    def results(self) -> list[TaskResult]:
        rows = self._read("SELECT result FROM tasks WHERE state = 'done' ORDER BY position")
        return [from_json(TaskResult, row[0]) for row in rows]

    def counts(self) -> dict[str, Any]:
        """How many tasks are in each state and how often tasks were started: evidence for resume."""
        by_state = dict(self._read("SELECT state, COUNT(*) FROM tasks GROUP BY state"))
        attempts = dict(self._read("SELECT attempts, COUNT(*) FROM tasks GROUP BY attempts"))
        lines, _ = _jsonl_names(self.root / "results.jsonl")
        return {
            "tasks": sum(by_state.values()), "by_state": by_state, "tasks_by_attempts": attempts,
            "jsonl_lines": len(lines), "jsonl_distinct": len(set(lines)),
        }

    def reconcile_jsonl(self) -> None:
        """Make results.jsonl hold exactly one line per done task: a kill between the commit and the
        append (or in the middle of the append) is repaired by rewriting it from the database."""
        path = self.root / "results.jsonl"
        names, torn = _jsonl_names(path)
        rows = self._read(
            "SELECT name, result FROM tasks WHERE state = 'done' ORDER BY finished_at, position"
        )
        if not torn and sorted(names) == sorted(name for name, _ in rows):
            return
        tmp = path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(result + "\n" for _, result in rows))
        os.replace(tmp, path)


def _jsonl_names(path: Path) -> tuple[list[str], bool]:
    names, torn = [], False
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                names.append(str(json.loads(line)["name"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                torn = True
    return names, torn


def _append_line(path: Path, line: str) -> None:
    with open(path, "a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


__all__ = ["DB_NAME", "BenchDB"]
