"""Shape-only tracing gives the built-in generator the same candidates as real data.

The tracing child (tasks/isolated.py) first runs the built-in generator with every tensor on the
meta device, and redoes it on real data only when that raises. This checks the assumption it
rests on: for each task in the given folders (sizes shrunk until the inputs fit in --max-mb, so
that real data fits here), generating with real tensors and with meta tensors gives the same
candidates (ids, parameters, code) or the same decline; a meta run that raises is counted as
"falls back" (harmless: real data then decides). It also times both at the shrunk sizes.

    python benchmarks/meta_trace_check.py tests/fixtures/builtin_families tests/fixtures/kernelbench_style \
        .kb/KernelBench/level1 --dsl cpp,triton_cuda
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task
from akg_agents.tasks.scale import shrink_while


def input_mb(task: Task) -> float:
    module = types.ModuleType("sized")
    exec(compile(task.source, task.name, "exec"), module.__dict__)
    with torch.device("meta"):
        inputs = list(module.get_inputs())
        params = list(module.Model(*module.get_init_inputs()).parameters())
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)] + params
    return sum(math.prod(t.shape) * t.element_size() for t in tensors) / 2**20


def outcome(task: Task, dsl: str, meta: bool) -> tuple[str, Any]:
    try:
        if meta:
            with torch.device("meta"):
                made = generate(task, dsl, 4)
        else:
            made = generate(task, dsl, 4)
    except NotCovered as why:
        return "declined", str(why)
    except Exception as exc:
        return "raised", f"{type(exc).__name__}: {str(exc)[:100]}"
    return "made", [(c.id, c.params, c.code) for c in made]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--dsl", default="cpp,triton_cuda")
    parser.add_argument("--max-mb", type=float, default=48.0)
    args = parser.parse_args()
    tally: dict[str, int] = {}
    seconds = {"real": 0.0, "meta": 0.0}
    for folder in args.folders:
        for path in sorted(Path(folder).glob("*.py")):
            task = Task(name=path.stem, source=path.read_text())
            try:
                task = shrink_while(task, lambda t: input_mb(t) > args.max_mb)
            except Exception as exc:
                print(f"skip {path.name}: {type(exc).__name__}: {exc}")
                continue
            for dsl in args.dsl.split(","):
                start = time.perf_counter()
                real = outcome(task, dsl, meta=False)
                seconds["real"] += time.perf_counter() - start
                start = time.perf_counter()
                meta = outcome(task, dsl, meta=True)
                seconds["meta"] += time.perf_counter() - start
                if meta[0] == "raised":
                    verdict = "falls back"
                elif meta == real:
                    verdict = f"same ({real[0]})"
                else:
                    verdict = "DIFFERENT"
                    print(f"  real: {str(real)[:300]}\n  meta: {str(meta)[:300]}")
                tally[verdict] = tally.get(verdict, 0) + 1
                print(f"{verdict:16} {dsl:12} {path.parent.name}/{path.name}" + (f"  ({meta[1]})" if meta[0] == "raised" else ""))
    print("tally:", tally)
    print(f"generation time at the shrunk sizes: real {seconds['real']:.1f} s, meta {seconds['meta']:.1f} s")
    return 1 if tally.get("DIFFERENT") else 0


if __name__ == "__main__":
    sys.exit(main())
