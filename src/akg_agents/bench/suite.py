"""Which tasks a bench runs: a bundled suite by name, a folder of task files, or a KernelBench checkout.

    akg_cli bench cpu_small                         the bundled suite (bench/suites/cpu_small)
    akg_cli bench path/to/folder                    every *.py task file in the folder
    akg_cli bench KernelBench --level 1             KernelBench/level1/NN_Name.py (checkout root,
                                                    or its inner KernelBench/ folder)
    ... --problems 1-20,40                          only files whose leading number is listed

Problem numbers are the leading integer of a file name (`40_GRUHidden.py` -> 40), as KernelBench
numbers its problems; the bundled suite numbers its files the same way.
"""

from __future__ import annotations

import re
from pathlib import Path

from akg_agents.errors import ConfigError, TaskError
from akg_agents.records import Task
from akg_agents.tasks.loader import load_task

SUITES_DIR = Path(__file__).parent / "suites"
_LEADING_NUMBER = re.compile(r"^(\d+)_")


def bundled_suites() -> list[str]:
    return sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))


def parse_problems(text: str) -> list[int]:
    """'1-20,40' -> [1, 2, ..., 20, 40]. Raises ConfigError (one line) on anything else."""
    numbers: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if match is None:
            raise ConfigError(f"--problems takes numbers and ranges like 1-20,40 (bad part '{part}')")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if low < 1 or high < low:
            raise ConfigError(f"--problems range '{part}' is empty or starts below 1")
        numbers.update(range(low, high + 1))
    if not numbers:
        raise ConfigError(f"--problems selects nothing (got '{text}')")
    return sorted(numbers)


def problem_number(path: Path) -> int | None:
    match = _LEADING_NUMBER.match(path.name)
    return int(match.group(1)) if match else None


def resolve_folder(suite: str, level: int | None) -> Path:
    """The folder holding the task files, from a bundled name, a folder or a KernelBench checkout."""
    path = Path(suite)
    if not path.exists():
        if suite in bundled_suites():
            path = SUITES_DIR / suite
        else:
            names = ", ".join(bundled_suites()) or "none"
            raise ConfigError(f"suite '{suite}' not found: not a folder, nor a bundled suite ({names})")
    if not path.is_dir():
        raise ConfigError(f"suite '{suite}' is a file; bench takes a folder of tasks (use `akg_cli op` for one task)")
    if level is None:
        if (path / "level1").is_dir() or (path / "KernelBench" / "level1").is_dir():
            raise ConfigError(f"{path} looks like a KernelBench checkout; choose a level with --level 1..4")
        return path
    for candidate in (path / "KernelBench" / f"level{level}", path / f"level{level}"):
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"--level {level}: no level{level}/ folder in {path} (expected KernelBench/level{level}/NN_Name.py)")


def select_files(folder: Path, problems: list[int] | None) -> list[Path]:
    files = sorted((p for p in folder.glob("*.py") if not p.name.startswith("_")), key=_sort_key)
    if problems is not None:
        wanted = set(problems)
        files = [p for p in files if problem_number(p) in wanted]
        if not files:
            raise ConfigError(f"--problems selects no task file in {folder}")
    if not files:
        raise ConfigError(f"no task files (*.py) in {folder}")
    return files


def _sort_key(path: Path) -> tuple[int, str]:
    number = problem_number(path)
    return (number if number is not None else 1 << 30, path.name)


def load_suite(suite: str, level: int | None = None, problems: str | None = None) -> tuple[Path, list[Task]]:
    """Resolve the suite and load its tasks (each file parsed and checked; nothing is run here)."""
    folder = resolve_folder(suite, level)
    files = select_files(folder, parse_problems(problems) if problems is not None else None)
    tasks = []
    for file in files:
        try:
            tasks.append(load_task(file))
        except TaskError as error:
            raise ConfigError(f"suite {folder}: {error}") from None
    return folder, tasks


__all__ = ["SUITES_DIR", "bundled_suites", "load_suite", "parse_problems", "problem_number", "resolve_folder", "select_files"]
