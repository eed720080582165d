"""Compile, run, check and time generated programs (PolyBench timing protocol).

Protocol: each measurement is a fresh process (arrays initialised, OpenMP's thread pool
started, cache flushed by a 32 MiB sweep, kernel timed with omp_get_wtime); 5 runs, drop min
and max, report the mean of the middle 3 and warn when their spread exceeds 5% of that mean.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dsl import Kernel

GCC = ["gcc", "-O3", "-march=native", "-fopenmp"]
POLLY = ["clang-14", "-O3", "-march=native", "-mllvm", "-polly", "-mllvm", "-polly-parallel",
         "-fopenmp=libgomp"]
# relative tolerance per element: schedules keep each element's update order (all
# dependences are respected), so only FMA contraction / vector-lane rounding differs,
# except with simd_reduction, which reassociates innermost sums (reduction.py)
RTOL = 1e-6
ATOL_SCALE = 1e-9  # absolute slack relative to the array's largest magnitude


def build_dir() -> Path:
    d = Path(os.environ.get("AKG_POLY_BUILD", "/tmp/akg_poly_build"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def polly_available() -> bool:
    return shutil.which("clang-14") is not None and _polly_ok()


_POLLY_OK: bool | None = None


def _polly_ok() -> bool:
    global _POLLY_OK
    if _POLLY_OK is None:
        src = build_dir() / "polly_probe.c"
        src.write_text("extern double omp_get_wtime(void);\nint main(void){return (int)omp_get_wtime()*0;}\n")
        r = subprocess.run([*POLLY, str(src), "-o", str(src.with_suffix(""))],
                           capture_output=True, text=True)
        _POLLY_OK = r.returncode == 0
    return _POLLY_OK


def compile_c(source: str, compiler: str, tag: str) -> Path:
    """Compile (cached by content hash); raises RuntimeError with the compiler output."""
    digest = hashlib.sha1((compiler + source).encode()).hexdigest()[:16]
    exe = build_dir() / f"{tag}-{digest}"
    if exe.exists():
        return exe
    src = exe.with_suffix(".c")
    src.write_text(source)
    cmd = [*(POLLY if compiler == "polly" else GCC), str(src), "-o", str(exe), "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"compile failed ({compiler}): {r.stderr.strip()[:2000]}")
    return exe


def run_once(exe: Path, threads: int, dump: Path | None = None, timeout: float = 600) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    args = [str(exe)] + ([str(dump)] if dump else [])
    r = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{exe.name} exited with {r.returncode}: {r.stderr.strip()[:500]}")
    return float(r.stdout.strip().splitlines()[-1])


@dataclass
class Timing:
    mean: float
    spread: float  # (max - min) / mean over the middle 3
    runs: list[float]

    @property
    def noisy(self) -> bool:
        return self.spread > 0.05


def time_exe(exe: Path, threads: int, runs: int = 5, first: float | None = None,
             timeout: float = 600, slow_after: float | None = None) -> Timing:
    times = [first] if first is not None else []
    if first is not None and slow_after is not None and first > slow_after:
        runs = 1  # hopeless variant: one run is enough to rank it (noted by the caller)
    while len(times) < runs:
        times.append(run_once(exe, threads, timeout=timeout))
    mid = sorted(times)[1:-1] if len(times) >= 3 else sorted(times)
    mean = float(np.mean(mid))
    spread = (max(mid) - min(mid)) / mean if mean > 0 else 0.0
    return Timing(mean, spread, times)


def array_sizes(kernel: Kernel, size: str) -> list[tuple[str, int, tuple[int, ...], str | None]]:
    out = []
    for a in kernel.arrays.values():
        if not a.output:
            continue
        shape = kernel.shape(a, size)
        n = int(np.prod(shape)) if shape else 1
        out.append((a.name, n, shape, a.check))
    return out


def _region(x: np.ndarray, shape: tuple[int, ...], check: str | None, vals: dict[str, int]) -> np.ndarray:
    if not check or not shape:
        return x
    # check is a numpy slice written with the kernel's parameters, e.g. "[:, :M]"
    return eval("x.reshape(shape)" + check, {"__builtins__": {}}, {"x": x, "shape": shape, **vals})


def compare(kernel: Kernel, size: str, ref: Path, got: Path) -> tuple[bool, float, str]:
    """Per-element relative comparison; returns (ok, max relative error, first bad array)."""
    a = np.fromfile(ref, dtype=np.float64)
    b = np.fromfile(got, dtype=np.float64)
    if a.shape != b.shape:
        return False, float("inf"), "size mismatch"
    worst, bad_name, off = 0.0, "", 0
    vals = kernel.sizes[size]
    for name, n, shape, check in array_sizes(kernel, size):
        x = _region(a[off: off + n], shape, check, vals).ravel()
        y = _region(b[off: off + n], shape, check, vals).ravel()
        off += n
        n = x.size
        both_nan = np.isnan(x) & np.isnan(y)
        scale = float(np.nanmax(np.abs(x))) if n and not np.all(np.isnan(x)) else 1.0
        diff = np.where(both_nan, 0.0, np.abs(x - y))
        diff = np.where(np.isinf(x) & (x == y), 0.0, diff)
        tol = RTOL * np.abs(x) + ATOL_SCALE * max(scale, 1e-300)
        rel = float(np.nanmax(diff / np.maximum(np.abs(x), max(scale, 1e-300) * 1e-3))) if n else 0.0
        worst = max(worst, rel if np.isfinite(rel) else float("inf"))
        if np.any(~(diff <= tol)) and not bad_name:
            bad_name = name
    return not bad_name, worst, bad_name
