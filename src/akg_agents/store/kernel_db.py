"""The kernel database: every candidate a search tried for one task on one target, with lineage.

One SQLite file per (task source, backend, arch, DSL, precision, threads), beside the run
directories (`<log_dir>/kernels/`), so every later run on the same task and target reads what the
earlier ones learned and starts from the best known kernels. evolve and adaptive_search write it
as they search; default, coder_only and kernelgen_only record every candidate they evaluate too
(workflows/base.py: record_in_kernel_db), with the parent they were fixed or improved from.

    kernels(key PRIMARY KEY)   normalized-source digest: the same code reformatted is one kernel
      run, candidate_id        which run made it, under which id there
      parents (JSON list)      keys of the kernels it was derived from; generation = max(parent) + 1
      params (JSON), params_key  the built-in generator's parameters (same parameters = duplicate)
      island, agent, note, code
      state                    pending (proposed, being evaluated) | done
      status, speedup, candidate_ms, eager_ms, evidence, result (EvalResult JSON), timings (JSON)
      created_at, finished_at

Durability: WAL with synchronous=FULL; a row is written when a candidate is proposed and updated
the moment its result arrives, each in its own transaction. A process killed with SIGKILL loses at
most the evaluation in flight (its row stays `pending`, and a resumed run evaluates it again).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akg_agents.records import Candidate, EvalResult, RunConfig, Task, from_dict, to_dict

SCHEMA = """
CREATE TABLE IF NOT EXISTS kernels (
    key TEXT PRIMARY KEY,
    run TEXT NOT NULL,
    candidate_id TEXT NOT NULL,
    parents TEXT NOT NULL DEFAULT '[]',
    generation INTEGER NOT NULL DEFAULT 0,
    island INTEGER NOT NULL DEFAULT 0,
    agent TEXT NOT NULL,
    params TEXT NOT NULL DEFAULT '{}',
    params_key TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    code TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    status TEXT,
    speedup REAL,
    candidate_ms REAL,
    eager_ms REAL,
    evidence TEXT NOT NULL DEFAULT '',
    result TEXT,
    timings TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS kernels_params ON kernels(params_key);
CREATE INDEX IF NOT EXISTS kernels_run ON kernels(run, state);
"""


def normalized_digest(code: str) -> str:
    """Digest of the code with comments, blank lines and formatting removed (Python's own
    unparser); text that does not parse is compared with its whitespace collapsed."""
    try:
        text = ast.unparse(ast.parse(code))
    except (SyntaxError, ValueError):
        text = re.sub(r"\s+", " ", code).strip()
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True) if params else ""


def db_path(log_dir: Path, task: Task, config: RunConfig) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", task.name)
    target = f"{config.backend}-{config.arch}-{config.dsl}-{config.precision}-t{config.threads}"
    return log_dir / "kernels" / f"{name}-{task.digest}-{target}.sqlite"


@dataclass(frozen=True)
class Entry:
    """One kernel as a search strategy sees it."""

    key: str
    candidate_id: str
    run: str
    code: str
    parents: tuple[str, ...] = ()
    generation: int = 0
    island: int = 0
    agent: str = "builtin"
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    state: str = "pending"
    status: str | None = None
    speedup: float | None = None  # counted speedup over eager; None unless passed and counted
    candidate_ms: float | None = None
    evidence: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def score(self) -> float:
        """What searches maximize: the counted speedup; a failed kernel scores 0."""
        return self.speedup if self.speedup is not None else 0.0

    def describe(self) -> str:
        if self.speedup is not None:
            return f"{self.candidate_id}: passed, {self.speedup:.2f}x over eager ({self.candidate_ms:.4g} ms)"
        return f"{self.candidate_id}: {self.status or 'not evaluated'}"


class KernelDB:
    """Single-threaded use from the workflow's event loop; each write is its own transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=10000")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    # -- writing ------------------------------------------------------------------------------

    def propose(self, candidate: Candidate, run: str, parents: tuple[str, ...] = (), island: int = 0) -> Entry:
        """Record a candidate about to be evaluated (or return the kernel already known under
        its normalized source)."""
        key = normalized_digest(candidate.code)
        known = self.get(key)
        if known is not None:
            return known
        generation = 1 + max((e.generation for e in (self.get(p) for p in parents) if e is not None), default=-1)
        self._conn.execute(
            "INSERT INTO kernels (key, run, candidate_id, parents, generation, island, agent, params, params_key,"
            " note, code, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (key, run, candidate.id, json.dumps(list(parents)), generation, island, candidate.agent,
             json.dumps(candidate.params, sort_keys=True), params_key(candidate.params), candidate.note[:500],
             candidate.code, time.time()),
        )
        found = self.get(key)
        assert found is not None
        return found

    def record(self, key: str, result: EvalResult) -> Entry:
        profile = result.profile
        counted = result.ok and profile is not None and profile.counted
        self._conn.execute(
            "UPDATE kernels SET state='done', status=?, speedup=?, candidate_ms=?, eager_ms=?, evidence=?, result=?,"
            " timings=?, finished_at=? WHERE key=?",
            (result.status.value, profile.speedup if counted and profile else None,
             profile.candidate.median_ms if profile else None, profile.eager.median_ms if profile else None,
             result.feedback()[-4000:], json.dumps(to_dict(result)), json.dumps(result.timings_s), time.time(), key),
        )
        found = self.get(key)
        assert found is not None
        return found

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: str) -> Entry | None:
        row = self._conn.execute("SELECT * FROM kernels WHERE key=?", (key,)).fetchone()
        return _entry(row) if row else None

    def by_params(self, params: dict[str, Any]) -> Entry | None:
        if not params:
            return None
        row = self._conn.execute("SELECT * FROM kernels WHERE params_key=? ORDER BY created_at LIMIT 1",
                                 (params_key(params),)).fetchone()
        return _entry(row) if row else None

    def by_candidate(self, run: str, candidate_id: str) -> Entry | None:
        """The kernel a run recorded under one of its candidate ids (a parent named by id)."""
        row = self._conn.execute("SELECT * FROM kernels WHERE run=? AND candidate_id=? ORDER BY created_at LIMIT 1",
                                 (run, candidate_id)).fetchone()
        return _entry(row) if row else None

    def result(self, key: str) -> EvalResult | None:
        row = self._conn.execute("SELECT result FROM kernels WHERE key=? AND state='done'", (key,)).fetchone()
        return from_dict(EvalResult, json.loads(row["result"])) if row and row["result"] else None

    def entries(self, run: str | None = None, state: str | None = None) -> list[Entry]:
        """In the order they were proposed."""
        clauses, args = [], []
        if run is not None:
            clauses.append("run=?")
            args.append(run)
        if state is not None:
            clauses.append("state=?")
            args.append(state)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._conn.execute(f"SELECT * FROM kernels{where} ORDER BY created_at, rowid", args).fetchall()
        return [_entry(r) for r in rows]

    def best(self, count: int) -> list[Entry]:
        rows = self._conn.execute("SELECT * FROM kernels WHERE state='done' AND speedup IS NOT NULL"
                                  " ORDER BY speedup DESC, created_at LIMIT ?", (count,)).fetchall()
        return [_entry(r) for r in rows]

    def lineage(self, key: str) -> list[Entry]:
        """The kernel, its first parent, that one's first parent ... back to a root."""
        chain: list[Entry] = []
        current = self.get(key)
        while current is not None and current.key not in {e.key for e in chain}:
            chain.append(current)
            current = self.get(current.parents[0]) if current.parents else None
        return chain


def _entry(row: sqlite3.Row) -> Entry:
    return Entry(
        key=row["key"], candidate_id=row["candidate_id"], run=row["run"], code=row["code"],
        parents=tuple(json.loads(row["parents"])), generation=row["generation"], island=row["island"],
        agent=row["agent"], params=json.loads(row["params"]), note=row["note"], state=row["state"],
        status=row["status"], speedup=row["speedup"], candidate_ms=row["candidate_ms"], evidence=row["evidence"],
    )


__all__ = ["Entry", "KernelDB", "db_path", "normalized_digest", "params_key"]
