"""Eager vs the PolyTOPS loop nests (the cpp generator's convolution candidates before
builtin/conv_gemm_cpp.py) vs the implicit-im2col GEMM on convolution tasks, timed interleaved in one
process (order rotated every round): ratios of medians.

    python benchmarks/cpu_conv_race.py [--rounds 30] [--poly 2] [--threads 0] [--budget-ms 100] > out.md

Tasks: cpu_small's 16_conv2d as bundled (the bench leaves it alone at the default budget) and
KernelBench level-1 2-d convolutions shrunk as `akg_cli bench --backend cpu` does (tasks/scale.py:
the largest size constant halved until eager runs within --budget-ms, timed here). Every candidate
is checked against eager before it is timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin.conv_gemm_cpp import CONV_GEMM_VARIANTS, conv_gemm_candidates
from akg_agents.builtin.layer_task import find_layer_task, task_inputs
from akg_agents.builtin.poly_cpp import poly_candidates
from akg_agents.records import Task
from akg_agents.tasks.scale import shrink, size_constants

ROOT = Path(__file__).resolve().parents[1]
KB = ROOT.parent / "shared/kernelbench/KernelBench/level1"
TASKS = [ROOT / "src/akg_agents/bench/suites/cpu_small/16_conv2d.py",
         *(KB / f for f in ("50_conv_standard_2D__square_input__square_kernel.py",
                            "55_conv_standard_2D__asymmetric_input__square_kernel.py",
                            "62_conv_standard_2D__square_input__asymmetric_kernel.py",
                            "80_conv_standard_2D_square_input_asymmetric_kernel___dilated____padded__.py",
                            "87_conv_pointwise_2D.py", "67_conv_standard_1D.py",
                            "54_conv_standard_3D__square_input__square_kernel.py"))]


def _module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _eager_ms(task: Task) -> float:
    ref = _module(task.source, "scale")
    model = ref.Model(*ref.get_init_inputs())
    inputs = list(ref.get_inputs())
    with torch.no_grad():
        model(*inputs)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            model(*inputs)
            times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def race(task: Task, rounds: int, n_poly: int, threads: int) -> str:
    _, inputs = task_inputs(task)
    layer = find_layer_task(_module(task.source, "layer"), inputs)
    assert layer is not None, task.name
    gemms = conv_gemm_candidates(task, layer, len(CONV_GEMM_VARIANTS), threads)
    nests = poly_candidates(task, n_poly, threads) if n_poly else []
    ref = _module(task.source, "ref")
    init = list(ref.get_init_inputs())
    torch.manual_seed(0)
    calls: dict[str, Any] = {"eager": ref.Model(*init)}
    for c in [*gemms, *nests]:
        torch.manual_seed(0)
        calls[c.id] = _module(c.code, c.id.replace("-", "_")).ModelNew(*init)
    sets = []
    for seed in range(3):
        torch.manual_seed(seed)
        sets.append(list(ref.get_inputs()))
    names = list(calls)
    with torch.no_grad():
        expected = calls["eager"](*sets[0])
        for name in names[1:]:
            err = (calls[name](*sets[0]) - expected).abs().max().item()
            assert err <= 1e-3 * (expected.abs().max().item() or 1.0) + 1e-4, f"{task.name} {name}: error {err}"
        samples: dict[str, list[float]] = {n: [] for n in names}
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                start = time.perf_counter()
                calls[name](*sets[r % len(sets)])
                samples[name].append(time.perf_counter() - start)
    med = {n: statistics.median(s) * 1e3 for n, s in samples.items()}
    best_gemm = min((n for n in names if "conv-gemm" in n), key=med.__getitem__)
    best_poly = min((n for n in names if "poly" in n), key=med.__getitem__, default=None)
    eager = med["eager"]
    poly = f"{med[best_poly]:.3f} ({eager / med[best_poly]:.2f}x, {best_poly})" if best_poly else "-"
    vs = f"{med[best_poly] / med[best_gemm]:.2f}x" if best_poly else "-"
    gemm0 = f"{eager / med[gemms[0].id]:.2f}x"
    shapes = " ".join(str(tuple(t.shape)) for t in sets[0] if isinstance(t, torch.Tensor))
    return (f"| {task.name} | {shapes} | {eager:.3f} | {poly} | {med[best_gemm]:.3f} ({eager / med[best_gemm]:.2f}x, "
            f"{best_gemm}) | {gemm0} | {vs} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--poly", type=int, default=2, help="loop-nest candidates raced (the generator's first ones)")
    parser.add_argument("--only", default="", help="comma-separated task number prefixes")
    parser.add_argument("--threads", type=int, default=0, help="eager's and the kernels' threads (0: all)")
    parser.add_argument("--budget-ms", type=float, default=100.0, help="the bench's --scale-budget-ms")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"rounds {args.rounds}, torch threads {torch.get_num_threads()}, scale budget {args.budget_ms:g} ms")
    print("| task | inputs | eager ms | PolyTOPS best ms (vs eager) | implicit GEMM best ms (vs eager) | conv-gemm-0 vs eager "
          "| GEMM over PolyTOPS |")
    print("|---|---|---|---|---|---|---|")
    for path in TASKS:
        if args.only and not any(path.stem.startswith(p + "_") for p in args.only.split(",")):
            continue
        task = Task(path.stem, path.read_text())
        if args.budget_ms > 0:
            task, _ = shrink(task, _eager_ms, args.budget_ms)
        sizes = {k: v for k, v in size_constants(task.source).items() if v != size_constants(path.read_text()).get(k)}
        print(race(task, args.rounds, args.poly, args.threads) + (f" <!-- scaled {sizes} -->" if sizes else ""), flush=True)


if __name__ == "__main__":
    main()
