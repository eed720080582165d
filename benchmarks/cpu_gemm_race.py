"""Eager vs the PolyTOPS loop nests vs the packed GEMM (builtin/cpp_gemm.py) on matrix-product tasks,
timed interleaved in one process (order rotated every round), on a loaded machine: ratios of medians.

    python benchmarks/cpu_gemm_race.py [--rounds 60] [--poly 4] [--precision fp32] > out.md

Tasks: the bundled cpu_small products (14, 15, 19: two products, cpp_gemm_chain.py) and KernelBench level-1 problems 1, 2, 4, 6, 9 at
sizes of the order the bench's --scale-budget-ms 25 picks on this machine (fixed here so that
runs compare). Every candidate is checked against eager before it is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin.cpp_gemm import GEMM_VARIANTS, gemm_candidates
from akg_agents.builtin.cpp_gemm_chain import chain_candidates
from akg_agents.builtin.poly_cpp import poly_candidates
from akg_agents.builtin.precision import PRECISIONS, tracing_precision
from akg_agents.records import Task
from akg_agents.tasks.scale import with_sizes

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "src/akg_agents/bench/suites/cpu_small"
KB = ROOT.parent / "shared/kernelbench/KernelBench/level1"
TASKS: list[tuple[Path, dict[str, int]]] = [
    (SUITE / "14_matmul.py", {}),
    (SUITE / "15_linear_bias_relu.py", {}),
    (SUITE / "19_mlp_residual.py", {}),
    (KB / "1_Square_matrix_multiplication_.py", {"N": 512}),
    (KB / "2_Standard_matrix_multiplication_.py", {"M": 512, "K": 512, "N": 1024}),
    (KB / "4_Matrix_vector_multiplication_.py", {"K": 8192}),
    (KB / "6_Matmul_with_large_K_dimension_.py", {"K": 16384}),
    (KB / "9_Tall_skinny_matrix_multiplication_.py", {"M": 2048}),
]


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _cast(values: list[Any], dtype: torch.dtype) -> list[Any]:
    return [v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for v in values]


def race(path: Path, sizes: dict[str, int], rounds: int, n_poly: int, precision: str, threads: int) -> str:
    task = Task(path.stem, path.read_text())
    task = with_sizes(task, sizes) if sizes else task
    dtype = PRECISIONS[precision]
    with tracing_precision(precision):
        gemms, why = gemm_candidates(task, len(GEMM_VARIANTS), threads)
        if not gemms:  # two products in a chain
            gemms, why = chain_candidates(task, len(GEMM_VARIANTS), threads)
        nests = poly_candidates(task, n_poly, threads) if n_poly else []
    ref = _module(task.source, "ref")
    init = list(ref.get_init_inputs())
    torch.manual_seed(0)
    calls: dict[str, Any] = {"eager": ref.Model(*init).to(dtype)}
    for c in [*gemms, *nests]:
        torch.manual_seed(0)
        calls[c.id] = _module(c.code, c.id.replace("-", "_")).ModelNew(*init).to(dtype)
    sets = []
    for seed in range(3):
        torch.manual_seed(seed)
        sets.append(_cast(list(ref.get_inputs()), dtype))
    names = list(calls)
    with torch.no_grad():
        expected = calls["eager"](*sets[0])
        for name in names[1:]:
            err = (calls[name](*sets[0]).float() - expected.float()).abs().max().item()
            scale = expected.float().abs().max().item() or 1.0
            rtol = {"fp32": 1e-3, "fp16": 5e-3, "bf16": 2e-2}[precision]  # a few output ulps in half precisions
            assert err <= rtol * scale + 1e-4, f"{path.stem} {name}: error {err}"
        samples: dict[str, list[float]] = {n: [] for n in names}
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                calls[name](*sets[r % len(sets)])
                samples[name].append(time.perf_counter() - start)
    med = {n: statistics.median(s) * 1e3 for n, s in samples.items()}
    best_gemm = min((n for n in names if "gemm" in n), key=med.__getitem__, default=None)
    best_poly = min((n for n in names if "poly" in n), key=med.__getitem__, default=None)
    eager = med["eager"]
    cols = [f"{eager:.3f}"]
    for best in (best_poly, best_gemm):
        cols.append(f"{med[best]:.3f} ({eager / med[best]:.2f}x, {best})" if best else "-")
    first = gemms[0].id if gemms else ""
    gemm0 = f"{eager / med[first]:.2f}x" if first else why
    vs = f"{med[best_poly] / med[best_gemm]:.2f}x" if best_poly and best_gemm else "-"
    shapes = " ".join(str(tuple(t.shape)) for t in sets[0] if isinstance(t, torch.Tensor))
    every = ", ".join(f"{c.id.removeprefix('builtin-')} {eager / med[c.id]:.2f}x" for c in gemms)
    return f"| {path.stem} | {shapes} | {' | '.join(cols)} | {gemm0} | {vs} | {every} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--poly", type=int, default=4)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--only", default="", help="comma-separated task number prefixes")
    parser.add_argument("--threads", type=int, default=0, help="eager's and the kernels' threads (0: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"rounds {args.rounds}, precision {args.precision}, torch threads {torch.get_num_threads()}")
    print("| task | inputs | eager ms | PolyTOPS best ms (vs eager) | GEMM best ms (vs eager) | gemm-0 vs eager "
          "| GEMM over PolyTOPS | every GEMM variant (vs eager) |")
    print("|---|---|---|---|---|---|---|---|")
    for path, sizes in TASKS:
        if args.only and not any(path.stem.startswith(p + "_") for p in args.only.split(",")):
            continue
        print(race(path, sizes, args.rounds, args.poly, args.precision, args.threads), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
