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
    defined, star = module_bindings(tree.body)
    missing = [name for name in REQUIRED if name not in defined]
    if missing and not star:  # `from m import *` may bind them: running it (the referee) tells
        raise TaskError(f"{where}: not a KernelBench task: it does not define {', '.join(missing)}")
    return tree


def module_bindings(body: list[ast.stmt]) -> tuple[set[str], bool]:
    """Names a module binds at its top level, however it binds them (class, def, assignment,
    import, inside if/try/with), and whether it has a `from ... import *`. Only a name bound in
    none of these ways is reported missing: a task that defines Model under `if`, or imports it,
    is not "missing Model"."""
    names: set[str] = set()
    star = False
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    star = True
                else:
                    names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            blocks = [node.body, node.orelse] if not isinstance(node, ast.With) else [node.body]
            if isinstance(node, ast.Try):
                blocks += [h.body for h in node.handlers] + [node.finalbody]
            for block in blocks:
                inner, inner_star = module_bindings(block)
                names |= inner
                star = star or inner_star
    return names, star
