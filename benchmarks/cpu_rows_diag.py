"""Where a memory-bound cpu_small kernel loses to eager: each built-in candidate against eager, eager
writing into a preallocated output, and the candidate's C++ called directly (no Python wrapper,
preallocated output), timed interleaved in one process (order rotated every round).

    python benchmarks/cpu_rows_diag.py [--rounds 60] [--threads 2] --only 01,13 > out.md

Columns are ms (median, and minimum: on a shared machine a median can be a scheduler slice).
"""

from __future__ import annotations

import argparse
import statistics
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin.generator import generate
from akg_agents.profile.timer import time_rotated
from akg_agents.records import Task

SUITE = Path(__file__).resolve().parents[1] / "src/akg_agents/bench/suites/cpu_small"


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def diag(path: Path, rounds: int, threads: int) -> list[str]:
    task = Task(path.stem, path.read_text())
    candidates = generate(task, "cpp", 4, threads)
    ref = _module(task.source, "ref")
    init = list(ref.get_init_inputs())
    torch.manual_seed(0)
    inputs = list(ref.get_inputs())
    eager = ref.Model(*init)
    calls: dict[str, Callable[[], Any]] = {"eager": lambda: eager(*inputs)}
    expected = eager(*inputs)
    if path.stem.startswith("01_"):  # relu: eager writing into a buffer it does not allocate
        out = torch.empty_like(expected)
        calls["eager out="] = lambda: torch.clamp_min(inputs[0], 0, out=out)
    for c in candidates:
        mod = _module(c.code, c.id.replace("-", "_"))
        torch.manual_seed(0)
        model = mod.ModelNew(*init)
        got = model(*inputs)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
        calls[c.id] = (lambda m=model: m(*inputs))
        lib = getattr(mod, "_lib", None)
        if lib is not None and hasattr(lib, "akg_kernel"):
            captured: list[tuple[Any, ...]] = []
            real = lib.akg_kernel
            lib.akg_kernel = lambda *a, real=real, captured=captured: (captured.append(a), real(*a))[1]
            model(*inputs)
            lib.akg_kernel = real
            if len(captured) == 1:
                calls[c.id + " raw"] = (lambda real=real, a=captured[0]: real(*a))
    names = list(calls)
    with torch.no_grad():
        samples = time_rotated(calls, rounds)
    med = {n: statistics.median(s) * 1e3 for n, s in samples.items()}
    low = {n: min(s) * 1e3 for n, s in samples.items()}
    notes = {c.id: c.note for c in candidates}
    return [f"| {path.stem} | {n} | {med[n]:.3f} | {low[n]:.3f} | {med['eager'] / med[n]:.2f}x | "
            f"{notes.get(n, '')[:90]} |" for n in names]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--only", default="01,13", help="comma-separated task number prefixes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"rounds {args.rounds}, torch threads {torch.get_num_threads()}")
    print("| task | call | median ms | min ms | eager / this (medians) | candidate |")
    print("|---|---|---|---|---|---|")
    for path in sorted(SUITE.glob("*.py")):
        if any(path.stem.startswith(p + "_") for p in args.only.split(",")):
            for line in diag(path, args.rounds, args.threads):
                print(line, flush=True)


if __name__ == "__main__":
    main()
