"""Time one candidate in-process, the way the verifier does, or run it bare for ncu.

    python benchmarks/gpu_probe.py TASK.py CANDIDATE.py --mode timer   # CudaTimer median (JSON)
    ncu ... python benchmarks/gpu_probe.py TASK.py CANDIDATE.py --mode ncu

`--size NAME=VALUE` rescales the task's module-level constants (as gpu_eval.py does).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from akg_agents.profile.cuda_timer import CudaTimer
from akg_agents.records import Task
from akg_agents.tasks.scale import with_sizes
from akg_agents.verify.taskrun import load_module as load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task")
    parser.add_argument("candidate")
    parser.add_argument("--mode", choices=["timer", "ncu"], default="timer")
    parser.add_argument("--size", action="append", default=[])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sizes = {k: int(v) for k, v in (item.split("=") for item in args.size)}
    task = with_sizes(Task(name="probe", source=Path(args.task).read_text()), sizes)
    task_module = load(task.source, "akg_task")
    candidate = load(Path(args.candidate).read_text(), "akg_candidate")
    torch.manual_seed(1234)
    model = candidate.ModelNew(*task_module.get_init_inputs()).cuda().eval()
    torch.manual_seed(0)
    inputs = [v.cuda() if isinstance(v, torch.Tensor) else v for v in task_module.get_inputs()]
    with torch.no_grad():
        for _ in range(3):
            model(*inputs)
        torch.cuda.synchronize()
        if args.mode == "ncu":
            for _ in range(10):
                model(*inputs)
            torch.cuda.synchronize()
            return
        timer = CudaTimer()
        samples = [timer.time_one(lambda: model(*inputs)) for _ in range(args.runs)]
    print(json.dumps({"median_ms": statistics.median(samples), "min_ms": min(samples), "runs": len(samples)}))


if __name__ == "__main__":
    main()
