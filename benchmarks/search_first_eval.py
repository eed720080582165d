"""Time to the first evaluation of a built-in search, two source trees interleaved.

Each run is `akg_cli op --workflow W --model builtin --max-candidates 1` on TASK; the time is read
from the run's events: from `task_validated` (the task checked and eager timed) to the first
`search_result` (the first candidate generated, compiled, verified and profiled). The trees
alternate (A, B, A, B, ...), so a change of machine load hits both.

    git archive 8744184~1 src | tar -x -C /tmp/old_src
    python benchmarks/search_first_eval.py --task src/akg_agents/bench/suites/cpu_small/14_matmul.py \\
        --tree old=/tmp/old_src/src --tree new=src --pairs 2 --out benchmarks/results/search/first_eval
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def one_run(tree: Path, task: Path, workflow: str, out: Path) -> dict[str, float | str]:
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    command = [sys.executable, "-c", "from akg_agents.cli.app import main; main()", "op", "--backend", "cpu",
               "--dsl", "cpp", "--task", str(task), "--workflow", workflow, "--model", "builtin",
               "--max-candidates", "1", "-o", str(out)]
    started = time.monotonic()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    events_files = list(out.glob("*/events.jsonl"))
    if done.returncode != 0 or not events_files:
        return {"status": "error", "wall_s": wall, "tail": (done.stderr or done.stdout)[-300:]}
    events = [json.loads(line) for line in events_files[0].read_text().splitlines()]
    validated = next(e["t"] for e in events if e["event"] == "task_validated")
    first = next(e["t"] for e in events if e["event"] == "search_result")
    return {"status": "ok", "first_eval_s": round(first - validated, 2), "wall_s": round(wall, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", type=Path, required=True)
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH of a source tree (its src/)")
    parser.add_argument("--workflow", default="adaptive_search")
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    trees = [(name, Path(path)) for name, path in (t.split("=", 1) for t in args.tree)]
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for round_ in range(args.pairs):
        for name, tree in trees:
            row = {"round": round_, "tree": name, "task": args.task.stem, "workflow": args.workflow,
                   "load_1min": round(os.getloadavg()[0], 2),
                   **one_run(tree, args.task, args.workflow, Path("/tmp/search_first_eval_runs") / name)}
            rows.append(row)
            print(json.dumps(row), flush=True)
            with open(args.out / "runs.jsonl", "a") as handle:
                handle.write(json.dumps(row) + "\n")
    medians = {name: statistics.median(float(r["first_eval_s"]) for r in rows if r["tree"] == name and r["status"] == "ok")
               for name, _ in trees if any(r["tree"] == name and r["status"] == "ok" for r in rows)}
    print(json.dumps({"median_first_eval_s": medians}))


if __name__ == "__main__":
    main()
