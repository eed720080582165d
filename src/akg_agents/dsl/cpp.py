"""The `cpp` DSL: C++ kernels for the CPU, loaded through the fast loader (dsl/cpp_loader.py).

Candidates put their C++ in a string, call `load_cpp(SOURCE)` once at import, and launch the
`extern "C"` functions from `forward` with tensors and scalars. KernelBench-style candidates that
use `torch.utils.cpp_extension.load_inline` are accepted too; they are just slow to build.
"""

from __future__ import annotations

import ast
import re
import shutil
from contextlib import AbstractContextManager
from pathlib import Path

from akg_agents.dsl import cpp_loader
from akg_agents.dsl.base import Violation, dotted_name, walk_calls
from akg_agents.dsl.native import LaunchCount, count_native_launches, export_with_loader, unexport_loader

LOADER_IMPORT = "from akg_agents.dsl.cpp_loader import load_cpp"
VEC_LINE = re.compile(r"kernel\.cpp:(?P<line>\d+):\d+: (?P<kind>optimized|missed): (?P<text>[^\n]*)")

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

    def instrument(self) -> AbstractContextManager[LaunchCount]:
        return count_native_launches(cpp_loader.LAUNCHES)

    def toolchain_problem(self) -> str | None:
        if shutil.which("g++") is None:
            return "g++ was not found on PATH: install it (Debian/Ubuntu: apt-get install g++)"
        return None

    def export(self, code: str) -> str:
        return export_with_loader(code, cpp_loader, LOADER_IMPORT)

    def unexport(self, code: str) -> str:
        """What `export` made, back in candidate form (`akg_cli verify` of an exported kernel)."""
        return unexport_loader(code, cpp_loader, LOADER_IMPORT)

    def compiler_notes(self) -> str:
        """g++'s vectorization verdict per loop of the libraries this process loaded (worker side)."""
        return "\n".join(filter(None, (vectorization_summary(path) for path in cpp_loader.loaded_paths())))

    def contract(self) -> str:
        return CONTRACT

    def example(self) -> str:
        return EXAMPLE


def vectorization_summary(library: str) -> str:
    """'line 46: NOT vectorized (control flow in loop)' for each inner loop g++ reported on."""
    report = Path(library[: -len(".so")] + ".vec.txt")
    if not report.exists():
        return ""
    verdicts: dict[int, str] = {}
    for match in VEC_LINE.finditer(report.read_text(errors="replace")):
        line, kind, text = int(match["line"]), match["kind"], match["text"].strip()
        if kind == "optimized" and text.startswith("loop vectorized"):
            verdicts[line] = "vectorized"
        elif kind == "missed" and text.startswith("not vectorized:") and "loop nest" not in text:
            verdicts.setdefault(line, f"NOT vectorized ({text.removeprefix('not vectorized:').strip()[:80]})")
    if not verdicts:
        return ""
    parts = [f"line {line}: {verdict}" for line, verdict in sorted(verdicts.items())]
    return "g++ vectorization report (lines of the C++ source): " + "; ".join(parts[:12])


PLUGIN = CppPlugin()
