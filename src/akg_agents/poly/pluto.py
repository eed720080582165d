"""Pluto (polycc) as a baseline of `poly bench`: the original program through Pluto, then gcc.

Pluto is a measurement tool here, never a dependency: it runs only when its path is given
(`akg_cli poly bench --pluto PATH` or the AKG_PLUTO variable: polycc itself or the folder
holding it). Flags are those of the Pluto anchor (`--tile --parallel`: tile size 32, smartfuse,
diamond tiling, unroll-and-jam; see ../shared/tools/pluto/README.md). The kernel's original loop
nest is marked `#pragma scop` / `#pragma endscop` in the same PolyBench-style harness as every
other variant, so Pluto's output is checked against the original order and timed the same way.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

from .codegen import program
from .dsl import Kernel

ENV = "AKG_PLUTO"
FLAGS = ("--tile", "--parallel")


class PlutoError(RuntimeError):
    """polycc failed on a kernel (a result of the bench, like a compile error)."""


def polycc_path(given: str | Path | None = None) -> Path | None:
    """polycc from `given` or $AKG_PLUTO (a file, or a folder holding polycc); None when neither."""
    raw = given if given is not None else os.environ.get(ENV)
    if not raw:
        return None
    path = Path(raw).expanduser().absolute()  # polycc runs in a temporary folder: no relative path
    return path / "polycc" if path.is_dir() else path


def check_polycc(path: Path) -> str | None:
    """None when `path` runs Pluto; otherwise a one-line reason."""
    if not path.is_file() or not os.access(path, os.X_OK):
        return f"{path} is not an executable polycc"
    pluto = path.parent / "pluto"
    probe = subprocess.run([str(pluto if pluto.exists() else path), "--version"], capture_output=True, text=True)
    if "PLUTO version" not in probe.stdout + probe.stderr:  # `pluto --version` exits non-zero
        first = (probe.stderr or probe.stdout).strip().splitlines()[:1]
        return f"{path} does not run: {first[0] if first else 'exit ' + str(probe.returncode)}"
    return None


def scop_source(kernel: Kernel, size: str) -> str:
    """The original program with its loop nest marked for Pluto."""
    return program(kernel, "#pragma scop\n" + kernel.reference_c() + "\n#pragma endscop", size, macros=False)


def transform(kernel: Kernel, size: str, polycc: Path, timeout: float = 300.0) -> tuple[str, float]:
    """Pluto's output program and polycc's wall time (its scheduling + code generation)."""
    with tempfile.TemporaryDirectory(prefix="akg_pluto_") as work:  # polycc writes files in its cwd
        src = Path(work) / f"{kernel.name.replace('-', '_')}.c"
        out = src.with_suffix(".pluto.c")
        src.write_text(scop_source(kernel, size))
        t0 = time.perf_counter()
        try:
            r = subprocess.run([str(polycc), *FLAGS, src.name, "-o", out.name], cwd=work,
                               capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PlutoError(f"polycc took more than {timeout:.0f} s") from None
        seconds = time.perf_counter() - t0
        if r.returncode != 0 or not out.exists():
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise PlutoError(f"polycc failed (exit {r.returncode}): {' / '.join(tail)[:300]}")
        return out.read_text(), seconds
