"""A session on disk, saved after every message, so a closed terminal loses nothing.

    <log_dir>/sessions/<id>/session.json   target, tasks, kernels, pastes, the model's conversation
    <log_dir>/sessions/<id>/transcript.md  what was said, in order (user messages, replies, results)
    <log_dir>/sessions/<id>/pastes/        pasted code, one file per paste
    <log_dir>/sessions/<id>/tasks/         the tasks made in the session (constructed, pasted, ported)
    <log_dir>/sessions/<id>/kernels/       every kernel the session produced, by id (k1.py ...)
    <log_dir>/sessions/<id>/prompts/       every prompt and answer of the kernel agent

Run directories of the session's runs stay where runs go (<log_dir>/<task>_<dsl>_<stamp>); the
session names them. `akg_cli resume` tells the two apart: a session folder has session.json, a
run directory has config.yaml and task.py.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from akg_agents.errors import RunStoreError

SESSION_FILE = "session.json"


@dataclass
class TaskEntry:
    id: str  # t1, t2 ...
    name: str
    path: str
    origin: str  # "request: ..." | "paste #2" | "ported from paste #3"


@dataclass
class KernelEntry:
    id: str  # k1, k2 ...
    task: str  # TaskEntry id
    dsl: str
    path: str  # the kernel's code in the session folder
    status: str  # passed | mismatch | ... (the verifier's verdict)
    how: str  # "run_workflow default" | "generate from k1: make it faster" ...
    speedup: float | None = None
    median_ms: float | None = None
    eager_ms: float | None = None
    run_dir: str = ""
    message: str = ""  # the verifier's one line
    feedback: str = ""  # the verifier's evidence (EvalResult.feedback): what a fix or a speed-up reads

    def line(self) -> str:
        """For the model and /status: numbers written so replay keys mask them ('1.23x', 'ms')."""
        speed = f", {self.speedup:.2f}x over eager ({self.median_ms:.4f} ms vs {self.eager_ms:.4f} ms)" \
            if self.speedup is not None and self.median_ms is not None and self.eager_ms is not None else ""
        return f"{self.id}: {self.status}{speed}; task {self.task}, {self.dsl}; {self.how}"


@dataclass
class SessionState:
    id: str
    created: str
    target: dict[str, Any]  # the op flags the session was opened with (see session.SessionTarget)
    model: str  # builtin | llm
    tasks: list[TaskEntry] = field(default_factory=list)
    kernels: list[KernelEntry] = field(default_factory=list)
    pastes: list[str] = field(default_factory=list)  # paste files, paste #N is pastes[N-1]
    history: list[list[str]] = field(default_factory=list)  # [role, content]: the model's conversation
    current_task: str = ""
    sketch: str = ""
    messages: int = 0  # user messages handled


class SessionStore:
    def __init__(self, root: Path, state: SessionState) -> None:
        self.root = root
        self.state = state

    @classmethod
    def create(cls, log_dir: str, target: dict[str, Any], model: str) -> SessionStore:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = Path(log_dir) / "sessions"
        name, suffix = f"s-{stamp}", 1
        while (base / name).exists():
            suffix += 1
            name = f"s-{stamp}-{suffix}"
        root = base / name
        for sub in ("pastes", "tasks", "kernels", "prompts"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        store = cls(root, SessionState(name, time.strftime("%Y-%m-%d %H:%M:%S"), target, model))
        store.save()
        return store

    @classmethod
    def open(cls, root: Path) -> SessionStore:
        try:
            data = json.loads((root / SESSION_FILE).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RunStoreError(f"{root} is not a readable session ({exc})") from None
        data["tasks"] = [TaskEntry(**t) for t in data.get("tasks", [])]
        data["kernels"] = [KernelEntry(**k) for k in data.get("kernels", [])]
        return cls(root, SessionState(**data))

    def save(self) -> None:
        tmp = self.root / (SESSION_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self.state), indent=1))
        os.replace(tmp, self.root / SESSION_FILE)

    def note(self, who: str, text: str) -> None:
        """The transcript: appended as things happen."""
        with open(self.root / "transcript.md", "a") as handle:
            handle.write(f"**{who}** ({time.strftime('%H:%M:%S')}):\n\n{text.rstrip()}\n\n")

    # -- sink for the agent's prompts ------------------------------------------------------------

    def save_prompt(self, name: str, text: str) -> Path:
        path = self.root / "prompts" / name
        path.write_text(text)
        return path

    def event(self, kind: str, **data: Any) -> None:
        with open(self.root / "events.jsonl", "a") as handle:
            handle.write(json.dumps({"t": round(time.time(), 3), "event": kind, **data}) + "\n")

    # -- things the session makes -----------------------------------------------------------------

    def add_paste(self, code: str, suffix: str = ".py") -> int:
        number = len(self.state.pastes) + 1
        path = self.root / "pastes" / f"paste-{number}{suffix}"
        path.write_text(code)
        self.state.pastes.append(str(path))
        return number

    def paste(self, number: int) -> str:
        if not 1 <= number <= len(self.state.pastes):
            known = f"#1-#{len(self.state.pastes)}" if self.state.pastes else "none yet"
            raise RunStoreError(f"there is no paste #{number} (pastes: {known})")
        return Path(self.state.pastes[number - 1]).read_text()

    def add_task(self, name: str, source: str, origin: str) -> TaskEntry:
        entry = TaskEntry(f"t{len(self.state.tasks) + 1}", name, "", origin)
        path = self.root / "tasks" / f"{entry.id}_{name}.py"
        path.write_text(source)
        entry.path = str(path.resolve())
        self.state.tasks.append(entry)
        self.state.current_task = entry.id
        self.state.sketch = ""
        return entry

    def task(self, task_id: str = "") -> TaskEntry:
        wanted = task_id or self.state.current_task
        for entry in self.state.tasks:
            if entry.id == wanted:
                return entry
        if not wanted:
            raise RunStoreError("there is no task yet: describe the op, or paste a KernelBench task")
        raise RunStoreError(f"there is no task {wanted} (tasks: {', '.join(t.id for t in self.state.tasks) or 'none'})")

    def add_kernel(self, code: str, entry: KernelEntry) -> KernelEntry:
        entry.id = f"k{len(self.state.kernels) + 1}"
        path = self.root / "kernels" / f"{entry.id}.py"
        path.write_text(code)
        entry.path = str(path.resolve())
        self.state.kernels.append(entry)
        return entry

    def kernel(self, kernel_id: str = "") -> KernelEntry:
        if not self.state.kernels:
            raise RunStoreError("there is no kernel yet in this session")
        if not kernel_id:
            return self.best() or self.state.kernels[-1]
        for entry in self.state.kernels:
            if entry.id == kernel_id.strip().lower():
                return entry
        raise RunStoreError(f"there is no kernel {kernel_id} (kernels: {', '.join(k.id for k in self.state.kernels)})")

    def best(self) -> KernelEntry | None:
        """The fastest passed kernel of the current task (what 'the kernel' means in a follow-up)."""
        passed = [k for k in self.state.kernels if k.status == "passed" and k.task == self.state.current_task]
        timed = [k for k in passed if k.speedup is not None]
        if timed:
            return max(timed, key=lambda k: k.speedup or 0.0)
        return passed[-1] if passed else None


def sessions_dir(log_dir: str) -> Path:
    return Path(log_dir) / "sessions"


def find_session(name: str | Path, log_dir: str) -> Path | None:
    """A session folder given as a path or as an id under <log_dir>/sessions."""
    for candidate in (Path(name), sessions_dir(log_dir) / str(name)):
        if (candidate / SESSION_FILE).is_file():
            return candidate
    return None


def list_sessions(log_dir: str) -> list[SessionStore]:
    base = sessions_dir(log_dir)
    found = []
    for folder in sorted(base.glob("*/" + SESSION_FILE)) if base.is_dir() else []:
        try:
            found.append(SessionStore.open(folder.parent))
        except RunStoreError:
            continue
    return found
