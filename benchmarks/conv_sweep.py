"""Time every built-in Triton convolution variant against eager on KernelBench convolutions at
their published sizes (a GPU benchmark: which kernel form and tile each problem should get).

    python benchmarks/conv_sweep.py .kb/KernelBench/level1 --problems 50-87 --device 0 --out OUT/conv.jsonl

One JSON line per (problem, variant) as it is measured: the variant, ok (within the verifier's
fp32 tolerance, 1e-4 * RMS + 1e-4 * |expected|, of the task's Model with TF32 off), the worst
error over RMS, the kernel's and eager's median milliseconds (CUDA events, interleaved rounds) and
eager / kernel. A problem already in OUT is skipped, so a killed sweep resumes. Variants are the
generator's own list (conv_triton._variants) plus the extra tiles below, offered through the same
candidate builder; a variant that fails to compile is recorded with its error.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import traceback
import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin import conv_triton
from akg_agents.builtin.layer_task import LayerTask
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

EXTRA_FP32: list[dict[str, Any]] = [
    dict(kind="taps", tile=(128, 128, 32, 8, 3), precision="tf32x3"),
    dict(kind="taps", tile=(64, 128, 32, 4, 3), precision="tf32x3"),
    dict(kind="taps", tile=(128, 64, 32, 8, 3), precision="tf32x3"),
    dict(kind="taps", tile=(128, 64, 16, 4, 4), precision="tf32x3"),
]


def problems(spec: str) -> set[int]:
    chosen: set[int] = set()
    for part in spec.split(","):
        low, _, high = part.partition("-")
        chosen.update(range(int(low), int(high or low) + 1))
    return chosen


def load(source: str, name: str, folder: Path) -> types.ModuleType:
    """Triton's jit reads the kernel's source file: write the module out, then import it."""
    path = folder / f"{name}.py"
    path.write_text(source)
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(source, str(path), "exec"), module.__dict__)
    return module


def timed(fn: Any, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return times


def sweep_problem(path: Path, out: Any, folder: Path) -> None:
    task = Task(path.stem, path.read_text())
    ref = load(task.source, f"ref_{path.stem[:3].strip('_')}", folder)
    torch.manual_seed(0)
    inputs = [v.cuda() if isinstance(v, torch.Tensor) else v for v in ref.get_inputs()]
    torch.manual_seed(0)
    model = ref.Model(*ref.get_init_inputs()).cuda()
    with torch.no_grad():
        want = model(*inputs)
    try:
        from akg_agents.builtin.generator import generate

        layer_variants = conv_triton._variants
        base = generate(task, "triton_cuda", 1)
    except NotCovered as error:
        out.write(json.dumps({"problem": path.stem, "declined": str(error)}) + "\n")
        out.flush()
        return

    def all_variants(layer: LayerTask) -> list[dict[str, Any]]:
        own = layer_variants(layer)[:5]  # the generator's first five (what --max-candidates up to 5 races)
        extra = [v for v in EXTRA_FP32[:2] if layer.dtype == "float32" and any(o["kind"] == "taps" for o in own)]
        return [*own, *extra]

    conv_triton._variants = all_variants  # type: ignore[assignment]
    try:
        candidates = generate(task, "triton_cuda", 64)
    finally:
        conv_triton._variants = layer_variants  # type: ignore[assignment]
    del base
    scale = float(want.float().pow(2).mean().sqrt())
    for index, candidate in enumerate(candidates):
        record: dict[str, Any] = {"problem": path.stem, "index": index, "params": candidate.params}
        try:
            module = load(candidate.code, f"cand_{path.stem[:3].strip('_')}_{index}", folder)
            torch.manual_seed(0)
            new = module.ModelNew(*ref.get_init_inputs()).cuda()
            with torch.no_grad():
                got = new(*inputs)
                torch.cuda.synchronize()
                err = (got.float() - want.float()).abs()
                bound = 1e-4 * scale + 1e-4 * want.float().abs()
                record["ok"] = bool((err <= bound).all())
                record["maxerr_over_rms"] = float(err.max()) / max(scale, 1e-30)
                del err, bound, got
                one = statistics.median(timed(lambda new=new: new(*inputs), 3))
                rounds = max(3, min(15, int(300 / max(one, 1e-3))))
                kernel_ms, eager_ms = [], []
                for _ in range(rounds):  # interleaved: the two see the same clocks and thermals
                    kernel_ms += timed(lambda new=new: new(*inputs), 1)
                    eager_ms += timed(lambda: model(*inputs), 1)
            record["kernel_ms"] = statistics.median(kernel_ms)
            record["eager_ms"] = statistics.median(eager_ms)
            record["speedup"] = record["eager_ms"] / record["kernel_ms"]
        except Exception as error:  # a compile failure or launch error is a result of the sweep
            record["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"
            traceback.print_exc(limit=2)
        out.write(json.dumps(record) + "\n")
        out.flush()
        print(json.dumps(record), flush=True)
        torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("level1", type=Path)
    parser.add_argument("--problems", default="50-87")
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--shard", default="0/1", help="i/n: this process takes every n-th problem from the i-th")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.cuda.set_device(args.device)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False  # fp32 means fp32, as in the verifier
    shard, shards = (int(v) for v in args.shard.split("/"))
    done = set()
    if args.out.exists():
        done = {json.loads(line)["problem"] for line in args.out.read_text().splitlines() if line.strip()}
    chosen = problems(args.problems)
    files = sorted((p for p in args.level1.glob("*.py") if int(p.name.split("_")[0]) in chosen and "conv" in p.name),
                   key=lambda p: int(p.name.split("_")[0]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a") as out, tempfile.TemporaryDirectory() as folder:
        for path in files[shard::shards]:
            if path.stem in done:
                continue
            print(f"== {path.stem}", flush=True)
            sweep_problem(path, out, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
