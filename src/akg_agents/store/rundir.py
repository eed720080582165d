"""The run directory: everything a run does, written as it happens, so a killed run loses nothing.

    <run>/config.yaml        the RunConfig (what was asked)
    <run>/task.py            the effective task (after size scaling)
    <run>/candidates/ID.py   every candidate, written before it is evaluated
    <run>/results.jsonl      one line per evaluated candidate: {candidate, result}, fsynced
    <run>/events.jsonl       what happened, in order (task validated, generation, decisions ...)
    <run>/prompts/           every prompt and response (LLM workflows)
    <run>/best_kernel.py     the fastest passed candidate, exported self-contained
    <run>/summary.json|.md   the table shown at the end
    <run>/state.json         running | finished, so `resume` knows what to do
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from akg_agents.errors import RunStoreError
from akg_agents.records import Candidate, EvalResult, ProfileResult, RunConfig, Task, from_dict, to_dict


def _append_line(path: Path, line: str) -> None:
    with open(path, "a") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class RunStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.results: dict[str, tuple[Candidate, EvalResult]] = {}  # by candidate digest

    # -- creation and loading ------------------------------------------------------------------

    @classmethod
    def create(cls, log_dir: str, config: RunConfig, task: Task) -> RunStore:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = Path(log_dir) / f"{task.name}_{config.dsl}_{stamp}"
        suffix = 1
        while root.exists():
            suffix += 1
            root = Path(log_dir) / f"{task.name}_{config.dsl}_{stamp}_{suffix}"
        (root / "candidates").mkdir(parents=True)
        (root / "prompts").mkdir()
        store = cls(root)
        (root / "config.yaml").write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
        (root / "task.py").write_text(task.source)
        (root / "task.json").write_text(json.dumps({k: v for k, v in to_dict(task).items() if k != "source"}, indent=2))
        store.set_state("running")
        return store

    @classmethod
    def open(cls, path: str | Path) -> RunStore:
        root = Path(path)
        if not (root / "config.yaml").exists() or not (root / "task.py").exists():
            raise RunStoreError(f"{root} is not a run directory (no config.yaml / task.py)")
        store = cls(root)
        results = root / "results.jsonl"
        if results.exists():
            for number, line in enumerate(results.read_text().splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    # A run killed mid-write leaves at most one torn last line; earlier ones are intact.
                    store.event("skipped_torn_line", line=number)
                    continue
                candidate = from_dict(Candidate, entry["candidate"])
                store.results[candidate.digest] = (candidate, from_dict(EvalResult, entry["result"]))
        return store

    def config(self) -> RunConfig:
        data = yaml.safe_load((self.root / "config.yaml").read_text())
        return from_dict(RunConfig, data)

    def task(self) -> Task:
        meta = json.loads((self.root / "task.json").read_text())
        return from_dict(Task, {**meta, "source": (self.root / "task.py").read_text()})

    # -- writing as things happen -------------------------------------------------------------

    def event(self, kind: str, **data: Any) -> None:
        _append_line(self.root / "events.jsonl", json.dumps({"t": round(time.time(), 3), "event": kind, **data}))

    def save_candidate(self, candidate: Candidate) -> Path:
        path = self.root / "candidates" / f"{candidate.id}.py"
        path.write_text(candidate.code)
        return path

    def known_result(self, candidate: Candidate) -> EvalResult | None:
        """A result recorded earlier for the same code (resume, or a duplicate candidate)."""
        found = self.results.get(candidate.digest)
        return replace(found[1], candidate_id=candidate.id) if found else None

    def record(self, candidate: Candidate, result: EvalResult) -> None:
        entry = {"candidate": to_dict(candidate), "result": to_dict(result)}
        _append_line(self.root / "results.jsonl", json.dumps(entry, sort_keys=True))
        self.results[candidate.digest] = (candidate, result)

    def save_prompt(self, name: str, text: str) -> Path:
        path = self.root / "prompts" / name
        path.write_text(text)
        return path

    def set_state(self, state: str, **data: Any) -> None:
        _write_atomic(self.root / "state.json", json.dumps({"state": state, **data}))

    def state(self) -> str:
        path = self.root / "state.json"
        return str(json.loads(path.read_text())["state"]) if path.exists() else "unknown"

    # -- the outcome ---------------------------------------------------------------------------

    def finalists(self, count: int = 3) -> list[Candidate]:
        """The fastest passed candidates by their own time (flagged-impossible ones last)."""
        _, disqualified = self.race()
        timed = [(c, r) for c, r in self.results.values() if r.ok and r.profile is not None and c.id not in disqualified]
        timed.sort(key=lambda cr: (not cr[1].profile.counted, cr[1].profile.candidate.median_ms) if cr[1].profile else (True, 0.0))
        return [c for c, _ in timed[:count]]

    def record_race(self, timings: dict[str, ProfileResult], disqualified: list[str]) -> None:
        """The finalists re-timed side by side against eager (this decides the best), and the ones
        disqualified there."""
        data = {"timings": {cid: to_dict(p) for cid, p in timings.items()}, "disqualified": disqualified}
        _write_atomic(self.root / "race.json", json.dumps(data, indent=2))

    def clear_race(self) -> None:
        (self.root / "race.json").unlink(missing_ok=True)  # a resumed run races again

    def race(self) -> tuple[dict[str, ProfileResult], list[str]]:
        path = self.root / "race.json"
        if not path.exists():
            return {}, []
        data = json.loads(path.read_text())
        return {cid: from_dict(ProfileResult, p) for cid, p in data["timings"].items()}, list(data["disqualified"])

    def result_of(self, candidate: Candidate) -> EvalResult | None:
        found = self.results.get(candidate.digest)
        return found[1] if found else None

    def best(self) -> tuple[Candidate, EvalResult] | None:
        """The winner of the finalists' race when there was one, else the fastest by its own
        time; a time below the roofline floor never wins over a counted one."""
        timings, disqualified = self.race()
        passed = [(c, r) for c, r in self.results.values() if r.ok and c.id not in disqualified]
        if not passed:
            return None
        by_id = {c.id: (c, r) for c, r in passed}
        race = {cid: p for cid, p in timings.items() if cid in by_id}
        if race:
            winner = min(race, key=lambda cid: (not race[cid].counted, race[cid].candidate.median_ms))
            candidate, result = by_id[winner]
            return candidate, replace(result, profile=race[winner])
        finalists = self.finalists(1)
        return by_id[finalists[0].id] if finalists else passed[0]

    def export_best(self, exported_code: str) -> Path:
        path = self.root / "best_kernel.py"
        _write_atomic(path, exported_code)
        return path

    def write_summary(self, rows: list[dict[str, Any]], markdown: str) -> None:
        _write_atomic(self.root / "summary.json", json.dumps(rows, indent=2))
        _write_atomic(self.root / "summary.md", markdown)
