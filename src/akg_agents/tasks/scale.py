"""Shrink GPU-sized tasks for the CPU: scale module-level size constants until the reference is fast.

KernelBench tasks keep their sizes in module-level int constants (`batch_size = 16`,
`dim = 16384`, `N = 2048 * 2`) and tuples of them (`input_shape = (32768,)`, one size per element, named
`input_shape[0]`). Only values of at least MIN_SIZE are treated as sizes (kernel sizes, axes and
strides are small and left alone). The largest is halved until the eager reference runs within the
budget; the changed constants are recorded on the Task so every report says which shapes were used.

Sizes that must agree (`predictions * targets` of shapes (batch_size, *input_shape) and
(batch_size,) only broadcast while batch_size == input_shape[0]) are found by trying: a halving
after which the task no longer runs (the measuring callback raises TaskError) is taken back and
retried with every size of the same value halved together; those stay linked from then on. If that
does not run either, they are left as they are and the next largest is tried. When the halved
size has equals that are not halved with it, the halved task is first run on the meta device
(shapes only, no memory, no math; in a child process) if the task as given runs there: a shape
error there counts as not running, whatever the callback would have said (a memory estimate
does not run forward).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import types
from collections.abc import Callable
from dataclasses import replace

import torch

from akg_agents.errors import TaskError
from akg_agents.records import Task

MIN_SIZE = 16
MAX_STEPS = 24
META_TIMEOUT_S = 120.0


_INT_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
    ast.FloorDiv: lambda a, b: a // b, ast.LShift: lambda a, b: a << b,
}


def _int_constant(node: ast.expr) -> int | None:
    """An int literal, or arithmetic on int literals (`N = 2048 * 2`, as 12 KernelBench level-1
    files write their sizes); None for anything else."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _INT_OPS:
        left, right = _int_constant(node.left), _int_constant(node.right)
        if left is None or right is None or (isinstance(node.op, ast.FloorDiv) and right == 0):
            return None
        if isinstance(node.op, ast.LShift) and not 0 <= right <= 62:
            return None
        return _INT_OPS[type(node.op)](left, right)
    return None


def _size_assignments(source: str) -> list[tuple[ast.Assign, str, list[int] | int]]:
    """Module-level `name = <int>` and `name = (<int>, ...)`: (node, name, value)."""
    found: list[tuple[ast.Assign, str, list[int] | int]] = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        value = _int_constant(node.value)
        if value is not None:
            found.append((node, node.targets[0].id, value))
        elif isinstance(node.value, ast.Tuple) and node.value.elts:
            items = [_int_constant(e) for e in node.value.elts]
            if all(v is not None for v in items):
                found.append((node, node.targets[0].id, [v for v in items if v is not None]))
    return found


def size_constants(source: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for _, name, value in _size_assignments(source):
        if isinstance(value, int):
            found[name] = value
        else:
            found.update({f"{name}[{i}]": v for i, v in enumerate(value)})
    return found


def with_sizes(task: Task, sizes: dict[str, int]) -> Task:
    """A copy of the task whose module-level constants (or tuple elements, `name[i]`) take the given values."""
    lines = task.source.splitlines(keepends=True)
    for node, name, value in _size_assignments(task.source):
        if isinstance(value, int):
            if name not in sizes:
                continue
            text = str(sizes[name])
        else:
            if not any(f"{name}[{i}]" in sizes for i in range(len(value))):
                continue
            items = [sizes.get(f"{name}[{i}]", v) for i, v in enumerate(value)]
            text = "(" + ", ".join(map(str, items)) + ("," if len(items) == 1 else "") + ")"
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        lines[first] = f"{name} = {text}  # scaled by akg_agents\n"
        for row in range(first + 1, last + 1):
            lines[row] = ""
    changed = {**task.sizes, **sizes}
    return replace(task, source="".join(lines), sizes=changed)


def runs_on_meta(source: str) -> bool | None:
    """Whether the task's forward runs on its inputs on the meta device; None when that cannot be
    told (the task fails to load, or uses an op without a meta kernel, whatever its sizes). Run
    in a child process with the sandbox's scrubbed environment: the task's code never runs in
    the CLI's own process (tasks/isolated.py)."""
    from akg_agents.verify.sandbox import scrubbed_env

    cache = os.environ.get("AKG_AGENTS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "akg_agents"))
    try:
        done = subprocess.run([sys.executable, "-m", "akg_agents.tasks.scale"], input=source, capture_output=True,
                              text=True, timeout=META_TIMEOUT_S, env=scrubbed_env(cache), start_new_session=True)
    except subprocess.TimeoutExpired:
        return None
    verdict = [line for line in done.stdout.splitlines() if line.startswith("akg-meta-runs:")]
    return {"True": True, "False": False}.get(verdict[-1].split(":", 1)[1].strip()) if verdict else None


def _runs_on_meta_here(source: str) -> bool | None:
    module = types.ModuleType("akg_scaled_task")
    try:
        exec(compile(source, "<scaled task>", "exec"), module.__dict__)
        with torch.device("meta"), torch.no_grad():
            inputs = list(module.get_inputs())
            module.Model(*module.get_init_inputs())(*inputs)
    except (RuntimeError, ValueError, IndexError, TypeError) as e:
        return None if isinstance(e, NotImplementedError) or "meta" in str(e).lower() else False
    except Exception:
        return None
    return True


def shrink_while(task: Task, too_big: Callable[[Task], bool]) -> Task:
    """Halve the largest size constant while `too_big(task)`; returns the first task that is not
    (or the smallest reachable one). `too_big` raising TaskError on a halved task means the task
    does not run at those sizes: the step is taken back (see the module's note); raised on the
    task as given, it propagates."""
    current = task
    sizes = {k: v for k, v in size_constants(task.source).items() if v >= MIN_SIZE}
    links: dict[str, set[str]] = {k: {k} for k in sizes}  # sizes that are halved together
    meta_baseline: list[bool] = []  # whether the task as given runs on meta: asked once, when first needed
    big = too_big(current)
    for _ in range(MAX_STEPS * 4):
        if not sizes or not big:
            break
        name = max(sizes, key=lambda k: sizes[k])
        alone = links[name] & sizes.keys()
        tries = [alone]
        together = {k for k, v in sizes.items() if v == sizes[name]} | alone
        if together != alone:
            tries.append(together)
        for group in tries:
            if any(sizes[k] // 2 < MIN_SIZE for k in group):
                continue
            candidate = with_sizes(current, {k: sizes[k] // 2 for k in group})
            if together != alone:  # sizes of equal value: halving some of them may break the task
                if not meta_baseline:
                    meta_baseline.append(runs_on_meta(task.source) is True)
                if meta_baseline[0] and not runs_on_meta(candidate.source):
                    continue
            try:
                big = too_big(candidate)
            except TaskError:
                continue
            current = candidate
            sizes.update({k: sizes[k] // 2 for k in group})
            for k in group:
                links[k] = set(group)
            break
        else:
            for k in together:  # cannot be halved (too small, or the task stops running): left as is
                sizes.pop(k, None)
    return current


def shrink(task: Task, eager_ms: Callable[[Task], float], budget_ms: float) -> tuple[Task, float]:
    """Halve the largest size constant until `eager_ms(task) <= budget_ms`; returns (task, time)."""
    measured: dict[str, float] = {}

    def too_slow(candidate: Task) -> bool:
        measured[candidate.digest] = eager_ms(candidate)
        return measured[candidate.digest] > budget_ms

    current = shrink_while(task, too_slow)
    return current, measured[current.digest] if current.digest in measured else eager_ms(current)


if __name__ == "__main__":  # the child of runs_on_meta: the task's source on stdin
    print(f"akg-meta-runs: {_runs_on_meta_here(sys.stdin.read())}", flush=True)
