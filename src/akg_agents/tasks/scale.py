"""Shrink GPU-sized tasks for the CPU: scale module-level size constants until the reference is fast.

KernelBench tasks keep their sizes in module-level int constants (`batch_size = 16`,
`dim = 16384`). Only constants of at least MIN_SIZE are treated as sizes (kernel sizes, axes and
strides are small and left alone). The largest is halved until the eager reference runs within the
budget; the changed constants are recorded on the Task so every report says which shapes were used.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace

from akg_agents.records import Task

MIN_SIZE = 16
MAX_STEPS = 24


def size_constants(source: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and isinstance(node.value, ast.Constant)
            and type(node.value.value) is int
        ):
            found[node.targets[0].id] = node.value.value
    return found


def with_sizes(task: Task, sizes: dict[str, int]) -> Task:
    """A copy of the task whose module-level constants take the given values."""
    lines = task.source.splitlines(keepends=True)
    for node in ast.parse(task.source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id in sizes:
            name = node.targets[0].id
            row = node.lineno - 1
            lines[row] = f"{name} = {sizes[name]}  # scaled by akg_agents\n"
    changed = {**task.sizes, **sizes}
    return replace(task, source="".join(lines), sizes=changed)


def shrink_while(task: Task, too_big: Callable[[Task], bool]) -> Task:
    """Halve the largest size constant while `too_big(task)`; returns the first task that is not
    (or the smallest reachable one)."""
    current = task
    sizes = {k: v for k, v in size_constants(task.source).items() if v >= MIN_SIZE}
    for _ in range(MAX_STEPS * 4):
        if not sizes or not too_big(current):
            break
        name = max(sizes, key=lambda k: sizes[k])
        sizes[name] //= 2
        if sizes[name] < MIN_SIZE:
            del sizes[name]
            continue
        current = with_sizes(current, {name: sizes[name]})
    return current


def shrink(task: Task, eager_ms: Callable[[Task], float], budget_ms: float) -> tuple[Task, float]:
    """Halve the largest size constant until `eager_ms(task) <= budget_ms`; returns (task, time)."""
    measured: dict[str, float] = {}

    def too_slow(candidate: Task) -> bool:
        measured[candidate.digest] = eager_ms(candidate)
        return measured[candidate.digest] > budget_ms

    current = shrink_while(task, too_slow)
    return current, measured[current.digest] if current.digest in measured else eager_ms(current)
