"""The `cpp` DSL: C++ kernels for the CPU, loaded through the fast loader (dsl/cpp_loader.py).

Candidates put their C++ in a string, call `load_cpp(SOURCE)` once at import, and launch the
`extern "C"` functions from `forward` with tensors and scalars. KernelBench-style candidates that
use `torch.utils.cpp_extension.load_inline` are accepted too; they are just slow to build.
"""

from __future__ import annotations

import ast
import inspect
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from akg_agents.dsl import cpp_loader
from akg_agents.dsl.base import Violation, dotted_name, walk_calls

LOADER_IMPORT = "from akg_agents.dsl.cpp_loader import load_cpp"

CONTRACT = """\
Write a Python module that defines `class ModelNew(nn.Module)` with the same constructor
arguments and outputs as `Model`. The math runs in C++:
- Put the C++ in a string and build it once at import time:
      from akg_agents.dsl.cpp_loader import load_cpp
      _lib = load_cpp(CPP_SOURCE)
  It is compiled with `g++ -O3 -march=native -fopenmp -std=c++17 -fno-math-errno` and cached.
- Export each kernel as `extern "C" void name(...)`. Call it as `_lib.name(t1, t2, n, eps)`:
  a torch.Tensor becomes a pointer to its data (it must be contiguous, on the CPU; pass
  `x.contiguous()`), a Python int becomes `int64_t`, a float becomes `double`.
- `forward` may only allocate outputs (torch.empty / empty_like), take views or `.contiguous()`,
  read shapes, and call the kernels. No torch math in `forward`, no threads, no try/except.
- Parallelize with OpenMP (`#pragma omp parallel for`) over independent rows or blocks and keep
  the innermost loop stride-1 so g++ vectorizes it (`#pragma omp simd`).
- Create parameters exactly as `Model` does (same modules or nn.Parameter shapes, same order),
  so the weights match under the same seed.
"""

EXAMPLE = '''\
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

CPP_SOURCE = r"""
#include <cstdint>

// y = max(x, 0): one pass, parallel over blocks, vectorized inner loop.
extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    #pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; ++i) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;  // keeps NaN as NaN, like torch.relu
    }
}
"""

_lib = load_cpp(CPP_SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
'''


class _LoadInlineCounter:
    """Counts calls into modules built by load_inline (KernelBench-style candidates)."""

    def __init__(self) -> None:
        self.calls = 0


class CppPlugin:
    name = "cpp"
    backend = "cpu"
    device_type = "cpu"
    language = "python"

    def static_check(self, tree: ast.Module, code: str) -> list[Violation]:
        names = {dotted_name(call.func) for call in walk_calls(tree)}
        builds = any(n.endswith("load_cpp") or n.endswith("load_inline") for n in names)
        if not builds:
            return [
                Violation(
                    "kernel-not-built",
                    "the candidate never calls load_cpp(...) (or load_inline): no C++ kernel is built",
                )
            ]
        return []

    @contextmanager
    def instrument(self) -> Iterator[Any]:
        """Count launches through the fast loader and through load_inline modules.

        torch.utils.cpp_extension takes ~2 s to import, so it is patched only when already
        imported: the worker imports it first for candidates that mention it (see worker.py)."""
        inline = _LoadInlineCounter()
        cpp_extension = sys.modules.get("torch.utils.cpp_extension")
        original = cpp_extension.load_inline if cpp_extension is not None else None

        def counting_load_inline(*args: Any, **kwargs: Any) -> Any:
            assert original is not None
            return _CountingModule(original(*args, **kwargs), inline)

        if cpp_extension is not None:
            cpp_extension.load_inline = counting_load_inline
        start = cpp_loader.LAUNCHES[0]

        class Counter:
            def count(self) -> int:
                return cpp_loader.LAUNCHES[0] - start + inline.calls

        try:
            yield Counter()
        finally:
            if cpp_extension is not None:
                cpp_extension.load_inline = original

    def toolchain_problem(self) -> str | None:
        if shutil.which("g++") is None:
            return "g++ was not found on PATH: install it (Debian/Ubuntu: apt-get install g++)"
        return None

    def export(self, code: str) -> str:
        if LOADER_IMPORT not in code:
            return code
        # `from __future__` is only legal at the top of a file; the loader needs none on 3.10+.
        loader = inspect.getsource(cpp_loader).replace("from __future__ import annotations\n", "")
        inlined = f"# --- inlined from akg_agents.dsl.cpp_loader ---\n{loader}\n# --- end of loader ---\n"
        body = code.replace(LOADER_IMPORT, "")
        # `from __future__` must stay first: put the loader after the candidate's own imports.
        return _insert_after_imports(body, inlined)

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE


class _CountingModule:
    def __init__(self, module: Any, counter: _LoadInlineCounter) -> None:
        self._module = module
        self._counter = counter

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._module, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self._counter.calls += 1
            return attr(*args, **kwargs)

        return call


def _insert_after_imports(code: str, block: str) -> str:
    lines = code.splitlines(keepends=True)
    tree = ast.parse(code)
    last = 0
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
            isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        ):
            last = node.end_lineno or last
        else:
            break
    return "".join(lines[:last]) + "\n" + block + "\n" + "".join(lines[last:])


PLUGIN = CppPlugin()
