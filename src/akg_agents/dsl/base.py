"""The DSL plugin protocol: everything that differs between Triton, CUDA C, TileLang and C++.

A DSL is one file in `akg_agents/dsl/` that defines `PLUGIN`, an object satisfying `DslPlugin`.
Nothing outside this folder branches on a DSL's name: the verifier, the store, the agents and the
built-in generator ask the plugin. Plugin modules must import with the standard library alone
(the sandboxed worker imports them); heavy imports (triton, tilelang) happen inside methods.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol


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
    backend: str  # "cpu" | "cuda" | "ascend"
    device_type: str  # torch device type the candidate runs on: "cpu" | "cuda" | "npu"
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
