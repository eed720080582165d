"""Load KernelBench-format task files: `Model`, `get_inputs()`, `get_init_inputs()`.

Loading checks the file's shape (it parses, it defines what the format needs); whether it runs,
returns tensors and is deterministic is checked by the sandbox's reference job (user code never
runs in the CLI's own process). Both kinds of problem surface as a one-line TaskError.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from akg_agents.errors import TaskError
from akg_agents.records import Task

REQUIRED = ("Model", "get_inputs", "get_init_inputs")
STDIN = "-"  # `--task -`: the task's source comes from standard input
STDIN_TASK_NAME = "task"  # ... and, having no file name, the task is called this


def load_task(path: str | Path) -> Task:
    if str(path) == STDIN:
        return load_stdin_task()
    file = Path(path)
    if not file.exists():
        raise TaskError(f"task file not found: {file}")
    if file.is_dir():
        raise TaskError(f"{file} is a folder; pass one task file (bench takes folders)")
    try:
        source = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"cannot read {file}: {exc}") from None
    check_task_source(source, str(file))
    return Task(name=file.stem, source=source, path=str(file.resolve()))


def load_stdin_task() -> Task:
    """`--task -`: read the whole task from standard input; it is named 'task'."""
    stream = sys.stdin
    if stream is None or stream.isatty():
        raise TaskError("--task -: standard input is a terminal, not a task file",
                        hint="pipe the task in: akg_cli op --task - < task.py")
    try:
        source = stream.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"--task -: cannot read standard input: {exc}") from None
    if not source.strip():
        raise TaskError("--task -: standard input was empty; pipe a task file in (akg_cli op --task - < task.py)")
    check_task_source(source, "standard input")
    return Task(name=STDIN_TASK_NAME, source=source, path="")


def load_tasks(path: str | Path) -> list[Task]:
    """A file, or every *.py file of a folder (sorted; files starting with '_' skipped)."""
    root = Path(path)
    if root.is_dir():
        files = sorted(p for p in root.glob("*.py") if not p.name.startswith("_"))
        if not files:
            raise TaskError(f"no task files (*.py) in {root}")
        return [load_task(f) for f in files]
    return [load_task(root)]


def check_task_source(source: str, where: str) -> ast.Module:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TaskError(f"{where}: syntax error on line {exc.lineno}: {exc.msg}") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined.update(t.id for t in node.targets if isinstance(t, ast.Name))
    missing = [name for name in REQUIRED if name not in defined]
    if missing:
        raise TaskError(f"{where}: not a KernelBench task: it does not define {', '.join(missing)}")
    return tree
