"""Deferred evaluation: jobs written as self-contained bundles, evaluated elsewhere, imported later.

    <DIR>/<task>-<kind>-<digest12>/bundle.json   what to evaluate (written here)
    <DIR>/<task>-<kind>-<digest12>/result.json   what the verifier found (written by `akg_cli evaluate DIR`)

A bundle holds everything the verifier needs and nothing of this machine: the task's source, the
candidate's code, the DSL and the verifier's settings. Its digest is the SHA-256 of that content,
so the same job (same task, code and settings) is the same bundle, written and evaluated once
whichever run asks for it. A result carries the digests of its bundle, task and candidates and
one of its own: a result is applied only to the job it was computed for, and never after an edit.

DeferredEvaluator is the Evaluator of a run made with `--defer DIR`: it answers from a result when
the bundle has one, else writes the bundle and raises RunParked. The workflow reaches the same
point again on `akg_cli resume` (recorded results are not re-evaluated, LLM answers come from the
run's memo) and then gets the result as if the device had been here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from dataclasses import dataclass, replace
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from akg_agents.errors import AkgError, ConfigError, RunStoreError, TaskError
from akg_agents.records import Candidate, EvalResult, Task, from_dict, to_dict
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.runtime.parked import RunParked
from akg_agents.verify.evaluate import ReferenceInfo, VerifySettings
from akg_agents.verify.protocol import RaceOutcome

if TYPE_CHECKING:  # the evaluating host needs no yaml: only torch and this project
    from akg_agents.store.rundir import RunStore

FORMAT = 1
try:
    VERSION = metadata.version("akg_agents")
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    VERSION = "unknown"
BUNDLE_FILE = "bundle.json"
RESULT_FILE = "result.json"
KINDS = ("prepare", "candidate", "race")
SETTLE_YIELDS = 8  # event-loop turns a parking evaluation waits, so sibling evaluations park too
ERRORS: dict[str, type[AkgError]] = {"TaskError": TaskError}  # the only error a result may carry


def digest_of(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    """One evaluation: prepare a task, evaluate one candidate, or race finalists."""

    kind: str
    task: Task
    dsl: str
    settings: VerifySettings
    candidates: tuple[Candidate, ...] = ()
    profile: bool = False

    def content(self) -> dict[str, Any]:
        """What the digest covers: everything that decides the verdict, nothing of this machine
        (candidate ids and the task's path are labels, not content)."""
        return {"format": FORMAT, "kind": self.kind, "dsl": self.dsl, "profile": self.profile,
                "task": {"name": self.task.name, "source": self.task.source, "sizes": self.task.sizes,
                         "atol": self.task.atol, "rtol": self.task.rtol},
                "verify": to_dict(self.settings), "candidates": [c.code for c in self.candidates]}

    @property
    def digest(self) -> str:
        return digest_of(self.content())

    @property
    def bundle_id(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.]", "_", self.task.name)[:48]
        return f"{name}-{self.kind}-{self.digest[:12]}"

    def bundle(self) -> dict[str, Any]:
        return {"id": self.bundle_id, "digest": self.digest, "job": self.content(),
                "task_digest": self.task.digest, "candidate_digests": [c.digest for c in self.candidates],
                "labels": [c.id for c in self.candidates], "made_with": {"akg_agents": VERSION}}


def job_from_bundle(data: dict[str, Any]) -> Job:
    """Rebuild a job from bundle.json; a bundle whose content no longer matches its digest (edited,
    truncated, or written by another format) is refused."""
    content = data.get("job") or {}
    if content.get("format") != FORMAT or content.get("kind") not in KINDS:
        raise RunStoreError(f"bundle {data.get('id', '?')}: unknown format or kind (made by another akg_agents version?)")
    if digest_of(content) != data.get("digest"):
        raise RunStoreError(f"bundle {data.get('id', '?')} was changed after it was written (its digest does not match)",
                            hint="write it again: resume the run that made it")
    t = content["task"]
    task = Task(name=t["name"], source=t["source"], sizes=dict(t["sizes"]), atol=t["atol"], rtol=t["rtol"])
    verify = dict(content["verify"])
    verify["seeds"] = tuple(verify["seeds"])
    labels = list(data.get("labels") or [])
    candidates = tuple(Candidate(id=labels[i] if i < len(labels) else f"c{i}", dsl=content["dsl"], code=code)
                       for i, code in enumerate(content["candidates"]))
    return Job(content["kind"], task, content["dsl"], VerifySettings(**verify), candidates, bool(content["profile"]))


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    os.replace(tmp, path)  # a reader never sees half a file; a killed writer leaves only the .tmp


class BundleBox:
    """The folder of bundles and results."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def bundle_dirs(self) -> list[Path]:
        return sorted(p.parent for p in self.root.glob(f"*/{BUNDLE_FILE}"))

    def write(self, job: Job) -> bool:
        """Write the job's bundle unless it is there already; True when written now."""
        folder = self.root / job.bundle_id
        if (folder / BUNDLE_FILE).is_file():
            return False
        folder.mkdir(parents=True, exist_ok=True)
        _write_json(folder / BUNDLE_FILE, job.bundle())
        return True

    def outcome(self, job: Job) -> dict[str, Any] | None:
        """The job's result, checked against the job; None while it has none."""
        path = self.root / job.bundle_id / RESULT_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunStoreError(f"{path} cannot be read: {exc}", hint="evaluate the bundle again") from None
        check_result(data, job, path)
        outcome: dict[str, Any] = data["outcome"]
        return outcome

    def write_result(self, folder: Path, job: Job, outcome: dict[str, Any], evaluated_on: dict[str, Any]) -> None:
        data = {"bundle": job.bundle_id, "bundle_digest": job.digest, "task_digest": job.task.digest,
                "candidate_digests": [c.digest for c in job.candidates], "outcome": outcome, "evaluated_on": evaluated_on}
        data["digest"] = digest_of(data)
        _write_json(folder / RESULT_FILE, data)


def check_result(data: dict[str, Any], job: Job, path: Path) -> None:
    """A result applies to exactly one job: its own digest first (no edits), then its job's."""
    body = {k: v for k, v in data.items() if k != "digest"}
    if digest_of(body) != data.get("digest"):
        raise RunStoreError(f"{path} was changed after it was written (its digest does not match): not applied",
                            hint=f"delete it and run `akg_cli evaluate {path.parent.parent}` again")
    expected = (job.digest, job.task.digest, [c.digest for c in job.candidates])
    found = (data.get("bundle_digest"), data.get("task_digest"), data.get("candidate_digests"))
    if found != expected:
        what = "task" if found[1] != expected[1] else "candidate" if found[2] != expected[2] else "job (settings)"
        raise RunStoreError(f"{path} was computed for another {what} than this run's: not applied",
                            hint=f"delete it and run `akg_cli evaluate {path.parent.parent}` again")


def error_outcome(error: AkgError) -> dict[str, Any]:
    return {"error": {"type": type(error).__name__, "message": str(error), "hint": error.hint}}


def _raise_error(outcome: dict[str, Any]) -> None:
    if "error" in outcome:
        error = outcome["error"]
        raise ERRORS.get(error["type"], AkgError)(error["message"], hint=error.get("hint", ""))


class DeferredEvaluator(Evaluator):
    """The Evaluator of a `--defer DIR` run (same interface as the device pool's)."""

    def __init__(self, defer_dir: str, dsl: str, settings: VerifySettings, width: int = 1) -> None:
        self.box = BundleBox(Path(defer_dir))
        self.dsl, self.settings, self._width = dsl, settings, max(width, 1)
        self.waiting: list[str] = []  # bundles this run waits for (shared with the RunParked raised)
        self.written: list[str] = []  # of those, the ones written by this session (not there before)

    @property
    def width(self) -> int:
        return self._width  # the devices of the host that will evaluate: what an engine may keep in flight

    def _job(self, kind: str, task: Task, candidates: tuple[Candidate, ...] = (), profile: bool = False) -> Job:
        return Job(kind, task, self.dsl, self.settings, candidates, profile)

    def _parked(self, job: Job) -> RunParked:
        if self.box.write(job):
            self.written.append(job.bundle_id)
        if job.bundle_id not in self.waiting:
            self.waiting.append(job.bundle_id)
        return RunParked(self.box.root, self.waiting, self.written)

    async def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        job = self._job("candidate", task, (candidate,), profile)
        outcome = self.box.outcome(job)
        if outcome is None:
            parked = self._parked(job)
            for _ in range(SETTLE_YIELDS):  # evaluations started alongside this one write theirs too
                await asyncio.sleep(0)
            raise parked
        _raise_error(outcome)
        return replace(from_dict(EvalResult, outcome["eval_result"]), candidate_id=candidate.id)

    def reference(self, task: Task) -> ReferenceInfo:
        job = self._job("prepare", task)
        outcome = self.box.outcome(job)
        if outcome is None:
            raise self._parked(job)
        _raise_error(outcome)
        return ReferenceInfo(**outcome["reference"])

    def fit_problem(self, task: Task) -> str | None:
        return None  # checked where the device is, when the prepare bundle is evaluated

    def quick_eager_ms(self, task: Task) -> float:
        raise ConfigError("scaling a task to a time budget needs the device; it cannot be deferred",
                          hint="leave --scale-budget-ms out with --defer, or scale the task file's sizes yourself")

    def race(self, task: Task, finalists: list[Candidate]) -> RaceOutcome:
        job = self._job("race", task, tuple(finalists))
        outcome = self.box.outcome(job)
        if outcome is None:
            raise self._parked(job)
        _raise_error(outcome)
        return from_dict(RaceOutcome, outcome["race"])

    def close(self) -> None:
        return None


def record_parked(store: RunStore, parked: RunParked) -> None:
    """The run directory says it is parked and on what; `resume` continues it."""
    waiting = sorted(set(parked.waiting))
    store.event("parked", defer_dir=str(parked.defer_dir), bundles=waiting)
    store.set_state("parked", defer_dir=str(parked.defer_dir), bundles=waiting)
    parked.runs = [store.root]
    parked.resume_command = parked.resume_command or f"akg_cli resume {store.root}"


__all__ = ["BundleBox", "DeferredEvaluator", "Job", "RunParked", "check_result", "error_outcome", "job_from_bundle",
           "record_parked"]
