"""The DSL plugin protocol: everything that differs between Triton, CUDA C, TileLang and C++.

A DSL is one file in `akg_agents/dsl/` that defines `PLUGIN`, an object satisfying `DslPlugin`
(or a third-party package's object behind an `akg_agents.dsl` entry point, see registry.py). It
names its backend (dsl/backend.py: device pinning, synchronize, timer, runtime check), which it
shares with the other DSLs of that device. Nothing outside this folder branches on a DSL's or a
backend's name: the verifier, the store, the agents and the built-in generator ask the plugins.
Plugin modules must import with the standard library alone (the sandboxed worker imports them);
heavy imports (triton, tilelang, torch_npu) happen inside methods.

Optional hooks, used when a plugin defines them:
    compiler_notes() -> str                      evidence from the compiler for the next prompt
    builtin_candidates(task, count, threads=0)   LLM-free candidates (list[Candidate]); raise
                                                 builtin.lower.NotCovered when out of scope
    skills_dir() -> str                          a folder of knowledge documents (*.md) it ships
    unsupported_archs: dict[str, str]            arch of its backend -> why this DSL cannot target it
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Violation:
    """A broken contract rule, found before (static) or while (runtime) a candidate runs."""

    rule: str  # short identifier, e.g. "no-try-except"
    message: str  # what was found and where
    line: int = 0


class LaunchCounter(Protocol):
    """Counts how many times the DSL's kernels were really launched, inside the worker."""

    def count(self) -> int: ...


class DslPlugin(Protocol):
    name: str  # e.g. "cpp"
    backend: str  # the backend plugin's name: "cpu" | "cuda" | "ascend" | a third-party one
    device_type: str  # torch device type the candidate runs on (its backend's): "cpu" | "cuda" | "npu"
    language: str  # code fence language for prompts, e.g. "python"

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        """DSL-specific rules (the generic ones live in verify/static.py)."""
        ...

    def instrument(self) -> AbstractContextManager[LaunchCounter]:
        """Inside the worker, before the candidate is imported: count kernel launches."""
        ...

    def toolchain_problem(self) -> str | None:
        """None when the compilers/runtimes this DSL needs are present; else an actionable line."""
        ...

    def export(self, code: str) -> str:
        """A self-contained version of a candidate: runs with torch (and the DSL) alone."""
        ...

    def contract(self) -> str:
        """The candidate contract, as prose for prompts and docs."""
        ...

    def example(self) -> str:
        """A complete, correct ModelNew for a small task (used in prompts and tests)."""
        ...


def walk_calls(tree: ast.AST) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node


def dotted_name(node: ast.AST) -> str:
    """`torch.utils.cpp_extension.load_inline` for the matching Attribute chain, else ''."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


class _CallCount:
    def __init__(self) -> None:
        self.calls = 0

    def count(self) -> int:
        return self.calls


@contextmanager
def count_method_calls(
    owner: Any, method: str, counts: Callable[[tuple[Any, ...], dict[str, Any]], bool] = lambda a, k: True
) -> Iterator[_CallCount]:
    """Count the calls of `owner.method` (a DSL runtime's launch entry point) while inside, then
    restore it: the launch counter of the JIT DSLs (Triton's JITFunction.run, TileLang's kernels)."""
    counter = _CallCount()
    original = getattr(owner, method)

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        if counts(args, kwargs):
            counter.calls += 1
        return original(self, *args, **kwargs)

    setattr(owner, method, counting)
    try:
        yield counter
    finally:
        setattr(owner, method, original)


def cuda_device_problem() -> str | None:
    """None when torch sees a CUDA GPU; else the line a user needs (shared by the CUDA DSLs)."""
    from akg_agents.dsl.registry import get_backend

    return get_backend("cuda").runtime_problem()
