"""What the DSLs whose kernels are native libraries (cpp, cuda_c) share: counting launches through
their fast loader and through `load_inline` modules, and exporting with the loader inlined."""

from __future__ import annotations

import ast
import inspect
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _InlineCalls:
    def __init__(self) -> None:
        self.calls = 0


class _CountingModule:
    """Wraps a load_inline extension: every call of one of its functions counts as a launch."""

    def __init__(self, module: Any, counter: _InlineCalls) -> None:
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


class LaunchCount:
    def __init__(self, loader_cell: list[int], inline: _InlineCalls) -> None:
        self._cell, self._inline, self._start = loader_cell, inline, loader_cell[0]

    def count(self) -> int:
        return self._cell[0] - self._start + self._inline.calls


@contextmanager
def count_native_launches(loader_launches: list[int]) -> Iterator[LaunchCount]:
    """Count launches through a loader (its LAUNCHES cell) and through load_inline modules.

    torch.utils.cpp_extension takes ~2 s to import, so it is patched only when already imported:
    the worker imports it first for candidates that mention it (see verify/worker.py)."""
    inline = _InlineCalls()
    cpp_extension: Any = sys.modules.get("torch.utils.cpp_extension")
    original = getattr(cpp_extension, "load_inline", None)

    def counting_load_inline(*args: Any, **kwargs: Any) -> Any:
        assert original is not None
        return _CountingModule(original(*args, **kwargs), inline)

    if cpp_extension is not None:
        cpp_extension.load_inline = counting_load_inline
    try:
        yield LaunchCount(loader_launches, inline)
    finally:
        if cpp_extension is not None:
            cpp_extension.load_inline = original


LOADER_END = "# --- end of loader ---\n"


def unexport_loader(code: str, loader: types.ModuleType, import_line: str) -> str:
    """An exported kernel back in candidate form: its inlined loader block becomes the import
    again. The block's text is dropped, not run: the verifier loads through the project's own
    loader, so whatever a file puts between the markers cannot change how it is judged."""
    start = code.find(f"# --- inlined from {loader.__name__} ---\n")
    end = code.find(LOADER_END, start) if start >= 0 else -1
    if end < 0:
        return code
    return code[:start] + import_line + "\n" + code[end + len(LOADER_END):]


def export_with_loader(code: str, loader: types.ModuleType, import_line: str) -> str:
    """Replace `import_line` with the loader's own source, placed after the candidate's imports."""
    if import_line not in code:
        return code
    # `from __future__` may only open a file; the loaders need none on Python >= 3.10.
    text = inspect.getsource(loader).replace("from __future__ import annotations\n", "")
    block = f"# --- inlined from {loader.__name__} ---\n{text}\n{LOADER_END}"
    body = code.replace(import_line, "")
    lines = body.splitlines(keepends=True)
    last = 0
    for node in ast.parse(body).body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            last = node.end_lineno or last
        else:
            break
    return "".join(lines[:last]) + "\n" + block + "\n" + "".join(lines[last:])
