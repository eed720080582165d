"""How close eager is to the copy bandwidth on cpu_small's memory-bound tasks: the headroom a
kernel has over eager when it can at best move the task's bytes as fast as a copy does.

    python benchmarks/cpu_small_roofline.py [--rounds 30] [--only 01,02] > out.md

Per task: bytes = inputs + output; the roof is those bytes at the bandwidth of `dst.copy_(src)`
over a tensor of the task's largest input (read + write counted), timed interleaved with eager
in the same rounds (from medians, and from minima: on a shared machine a median can be a
scheduler time slice). "headroom" = eager's time over the
roof's: about 1 means eager already streams at copy speed (no kernel can be much faster); well
above 1, eager leaves time on the table (compute, extra passes, or threads).
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from pathlib import Path

import torch

SUITE = Path(__file__).resolve().parents[1] / "src/akg_agents/bench/suites/cpu_small"


def row(path: Path, rounds: int) -> str:
    module = types.ModuleType(path.stem)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs())
    inputs = list(module.get_inputs())
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    with torch.no_grad():
        out = model(*inputs)
        moved = sum(t.numel() * t.element_size() for t in tensors) + out.numel() * out.element_size()
        src = max(tensors, key=lambda t: t.numel()).clone()
        dst = torch.empty_like(src)
        calls = {"eager": lambda: model(*inputs), "copy": lambda: dst.copy_(src)}
        samples: dict[str, list[float]] = {n: [] for n in calls}
        for r in range(rounds):
            for name in (list(calls) if r % 2 else list(calls)[::-1]):
                start = time.perf_counter()
                calls[name]()
                samples[name].append(time.perf_counter() - start)
    cells = []
    for pick in (statistics.median, min):  # the minimum: the run least disturbed by other jobs
        eager, copy = (pick(samples[n]) for n in ("eager", "copy"))
        bandwidth = 2 * src.numel() * src.element_size() / copy
        roof = moved / bandwidth
        cells.append(f"{eager * 1e3:.3f} | {bandwidth / 1e9:.1f} | {eager / roof:.2f}x")
    return f"| {path.stem} | {moved / 2**20:.1f} | {' | '.join(cells)} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", default="", help="comma-separated task number prefixes")
    args = parser.parse_args()
    print(f"rounds {args.rounds}, torch threads {torch.get_num_threads()}")
    print("| task | MiB moved | eager ms (median) | copy GB/s | headroom (eager / roof) | eager ms (min) | copy GB/s | headroom |")
    print("|---|---|---|---|---|---|---|---|")
    for path in sorted(SUITE.glob("[0-9]*.py")):
        if args.only and not any(path.stem.startswith(p + "_") for p in args.only.split(",")):
            continue
        print(row(path, args.rounds), flush=True)


if __name__ == "__main__":
    main()
