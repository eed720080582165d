"""PolyBench driver: every kernel under every variant, checked, timed, resumable.

Results go to a JSONL file one line per (kernel, size, variant, threads); an
interrupted run resumes by skipping lines already there.  A variant whose output
differs from the original order is recorded as wrong (never dropped).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import kernels as kreg
from .config import PRESETS
from .pipeline import build
from .runner import build_dir, compare, compile_c, polly_available, run_once, time_exe

DEFAULT_VARIANTS = ["orig", "isl", "polly", "pluto", *PRESETS, "override"]


@dataclass
class Record:
    kernel: str
    size: str
    variant: str
    threads: int
    status: str  # ok | wrong | compile_error | run_error | timeout | schedule_error | skipped
    mean: float | None = None
    spread: float | None = None
    runs: list[float] = field(default_factory=list)
    max_rel_err: float | None = None
    bad_array: str = ""
    sched_s: float | None = None
    pragmas: int = 0
    fallback: bool = False
    note: str = ""


def load(path: Path) -> list[Record]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(Record(**json.loads(line)))
    return out


def _append(path: Path, rec: Record) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(asdict(rec)) + "\n")


@dataclass
class BenchSpec:
    kernels: list[str]
    variants: list[str]
    size: str
    threads: list[int]
    runs: int = 5
    out: Path = Path("akg_poly_bench/bench.jsonl")
    overrides: Path | None = None
    timeout: float = 600.0
    selected: Path | None = None  # the per-kernel selection (select.py) the "selected" variant uses
    polycc: Path | None = None  # Pluto's polycc for the "pluto" variant (pluto.py); None: no such column


def run_bench(spec: BenchSpec, log: Callable[[str], None] = print) -> list[Record]:
    previous = load(spec.out)
    done = {(r.kernel, r.size, r.variant, r.threads) for r in previous}
    # the original order is sequential code: one timing serves every thread count
    origs = {r.kernel: r for r in previous if r.size == spec.size and r.variant == "orig"}
    variants = [v for v in spec.variants if v != "polly" or polly_available()]
    if "polly" in spec.variants and "polly" not in variants:
        log("clang-14 with Polly not found: skipping the polly column")
    if "pluto" in variants and spec.polycc is None:
        variants.remove("pluto")
        log("Pluto not given (--pluto PATH or AKG_PLUTO): skipping the pluto column")
    new: list[Record] = []
    for name in spec.kernels:
        kernel = kreg.get(name)
        todo = [(v, th) for v in variants for th in spec.threads
                if (name, spec.size, v, th) not in done]
        if not todo:
            continue
        ref_path, exe, first = _reference(kernel, spec)
        for variant, th in todo:
            if variant == "orig" and name in origs:
                rec = Record(**{**asdict(origs[name]), "threads": th})
                _append(spec.out, rec)
                new.append(rec)
                continue
            if variant == "orig":
                t = time_exe(exe, 1, spec.runs, first=first, timeout=spec.timeout)
                rec = Record(name, spec.size, "orig", th, "ok", t.mean, t.spread, t.runs,
                             note="sequential code; timed with 1 thread")
            else:
                rec = _one(kernel, variant, th, spec, ref_path, first)
            _append(spec.out, rec)
            new.append(rec)
            log(_fmt(rec))
    return new


def _reference(kernel, spec: BenchSpec):  # type: ignore[no-untyped-def]
    """Build and run the original order once (with the output dump used as reference)."""
    b = build(kernel, "orig", spec.size)
    assert b is not None
    exe = compile_c(b.source, "gcc", f"{kernel.name}-orig-{spec.size}")
    dump = build_dir() / f"{kernel.name}-{spec.size}-ref.bin"
    first = run_once(exe, 1, dump, timeout=spec.timeout)
    return dump, exe, first


def _one(kernel, variant: str, threads: int, spec: BenchSpec, ref: Path,
         orig_time: float | None = None) -> Record:  # type: ignore[no-untyped-def]
    rec = Record(kernel.name, spec.size, variant, threads, "ok")
    try:
        if variant == "selected":  # the configuration chosen on another size (select.py)
            b = build(kernel, "override", spec.size, overrides=spec.selected) if spec.selected else None
        else:
            b = build(kernel, variant, spec.size, overrides=spec.overrides, polycc=spec.polycc)
    except Exception as exc:  # an invalid schedule is a result, not a crash
        rec.status, rec.note = "schedule_error", str(exc)[:300]
        return rec
    if b is None:
        rec.status, rec.note = "skipped", f"no kernel-specific {'selection' if variant == 'selected' else 'override'}"
        return rec
    rec.sched_s, rec.pragmas, rec.fallback = b.sched_seconds, b.pragmas, bool(b.notes)
    try:
        exe = compile_c(b.source, b.compiler, f"{kernel.name}-{variant}-{spec.size}")
    except RuntimeError as exc:
        rec.status, rec.note = "compile_error", str(exc)[:300]
        return rec
    dump = build_dir() / f"{kernel.name}-{spec.size}-{variant}-{threads}.bin"
    try:
        first = run_once(exe, threads, dump, timeout=spec.timeout)
        ok, err, bad = compare(kernel, spec.size, ref, dump)
        rec.max_rel_err, rec.bad_array = err, bad
        if not ok:
            rec.status = "wrong"
        slow = max(10.0, 3 * orig_time) if orig_time else None
        t = time_exe(exe, threads, spec.runs, first=first, timeout=spec.timeout, slow_after=slow)
        rec.mean, rec.spread, rec.runs = t.mean, t.spread, t.runs
        if len(t.runs) < spec.runs:
            rec.note = "single run: more than 3x (and 10 s) slower than the original"
    except TimeoutError:
        rec.status = "timeout"
    except Exception as exc:
        rec.status = "timeout" if "timed out" in str(exc) else "run_error"
        rec.note = str(exc)[:300]
    finally:
        dump.unlink(missing_ok=True)
    return rec


def _fmt(r: Record) -> str:
    t = f"{r.mean:.6f}s" if r.mean is not None else "-"
    warn = " (spread>5%)" if r.spread is not None and r.spread > 0.05 else ""
    sched = f" sched={r.sched_s:.3f}s" if r.sched_s is not None else ""
    return f"{r.kernel:15s} {r.size:6s} {r.variant:15s} {r.threads}t {r.status:8s} {t}{warn}{sched} {r.note[:80]}"


def default_out(size: str) -> Path:
    """A new folder per bench, as `akg_cli op` and `akg_cli bench` make: never an earlier bench's
    results (the committed ones in a checkout included) read back as if measured now."""
    folder = Path("akg_poly_bench") / f"{size}_{time.strftime('%Y%m%d-%H%M%S')}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = folder.with_name(f"{size}_{time.strftime('%Y%m%d-%H%M%S')}_{suffix}")
    return folder / "bench.jsonl"


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")
