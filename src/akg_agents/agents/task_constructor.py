"""TaskConstructor: a plain request or messy code -> a validated KernelBench-format Task.

The model writes the file; `check_task_source` checks its shape and `validate` (the Verifier's
sandboxed reference job in the CLI) runs it. A failure goes back to the model with the error,
up to `attempts` times; the last error is raised as TaskError.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from akg_agents.agents.parsing import extract_module
from akg_agents.agents.prompting import AgentIO
from akg_agents.config.settings import Settings
from akg_agents.errors import TaskError
from akg_agents.records import RunConfig, Task
from akg_agents.tasks.loader import check_task_source


def task_name(request: str) -> str:
    words = re.findall(r"[a-z0-9]+", request.lower())
    stop = {"a", "an", "the", "over", "of", "for", "with", "and", "to", "in", "on", "batch", "rows", "wide"}
    kept = [w for w in words if w not in stop and not w.isdigit()][:4]
    return "_".join(kept) or "constructed"


class TaskConstructor:
    def __init__(self, io: AgentIO, level: str = "standard", attempts: int = 3) -> None:
        self.io = io
        self.level = level
        self.attempts = attempts

    async def construct(self, request: str, validate: Callable[[Task], None], name: str = "") -> Task:
        previous, error = "", ""
        for _ in range(self.attempts):
            variables = {"request": request.strip(), "previous": previous, "error": error}
            source, _ = await self.io.ask("task_constructor", "task_constructor.j2", variables, self.level,
                                          lambda text: extract_module(text, must_define="Model"))
            task = Task(name=name or task_name(request), source=source, path="")
            try:
                check_task_source(source, "the constructed task")
                validate(task)
                return task
            except TaskError as exc:
                previous, error = source, f"{exc}" + (f" ({exc.hint})" if exc.hint else "")
        raise TaskError(f"could not construct a valid task from the request after {self.attempts} attempts: {error}")


class FolderSink:
    """Prompts and events of a task construction, kept next to the constructed task file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save_prompt(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text)
        return path

    def event(self, kind: str, **data: Any) -> None:
        with open(self.folder / "events.jsonl", "a") as handle:
            handle.write(json.dumps({"t": round(time.time(), 3), "event": kind, **data}) + "\n")


def task_from_request(request: str, settings: Settings, config: RunConfig) -> tuple[Task, Path]:
    """Ask the configured model for a task, validate it in the sandbox, save it under log_dir."""
    from akg_agents.llm.factory import build_provider
    from akg_agents.llm.meter import TASK_USAGE_SUFFIX
    from akg_agents.workflows.runner import make_evaluator

    name = task_name(request)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(settings.log_dir) / "constructed" / f"{name}_{stamp}"
    llm = build_provider(settings.llm)
    evaluator = make_evaluator(config, settings)

    def validate(candidate: Task) -> None:
        evaluator.reference(candidate)  # runs it in the sandbox; raises TaskError with the reason

    try:
        constructor = TaskConstructor(AgentIO(llm, FolderSink(folder)))
        task = asyncio.run(constructor.construct(request, validate, name))
    finally:
        evaluator.close()
    path = folder / f"{name}.py"
    path.write_text(task.source)
    # What writing the task cost: the run made from it counts these calls in its llm_usage.json.
    path.with_suffix(TASK_USAGE_SUFFIX).write_text(json.dumps(llm.summary(), indent=2))
    return Task(name=name, source=task.source, path=str(path.resolve())), path
