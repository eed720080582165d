"""Verify a few candidates on KernelBench tasks at their published sizes, with phase timings.

    PYTHONPATH=src python benchmarks/kb_verify_smoke.py KB_LEVEL_DIR [--device cuda] [--dsl triton_cuda]

For each task, the DSL's relu example (relu tasks) or the built-in generator's first candidate is
verified and profiled; the result and the wall time of each phase are printed (one JSON per line).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from akg_agents.builtin.generator import generate  # noqa: E402
from akg_agents.builtin.lower import NotCovered  # noqa: E402
from akg_agents.dsl import get_plugin  # noqa: E402
from akg_agents.errors import AkgError  # noqa: E402
from akg_agents.records import Candidate  # noqa: E402
from akg_agents.tasks.loader import load_task  # noqa: E402
from akg_agents.verify.evaluate import Verifier, VerifySettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("level_dir")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--dsl", default="triton_cuda")
    parser.add_argument("--tasks", default="19_ReLU,23_Softmax")
    parser.add_argument("--extra", default="", help="candidate files to run on the first task too")
    args = parser.parse_args()
    verifier = Verifier(VerifySettings(device=args.device, timeout_s=300.0, warmup_times=3, run_times=10),
                        tempfile.mkdtemp(prefix="akg_smoke_"))
    try:
        for name in args.tasks.split(","):
            task = load_task(next(Path(args.level_dir).glob(f"{name}*.py")))
            start = time.perf_counter()
            try:
                info = verifier.reference(task)
            except AkgError as exc:
                print(json.dumps({"task": name, "prepare_error": str(exc)}), flush=True)
                continue
            prepared = time.perf_counter() - start
            codes: list[tuple[str, str]] = []
            if "relu" in name.lower():
                codes.append(("example", get_plugin(args.dsl).example()))
            try:
                codes += [(c.id, c.code) for c in generate(task, args.dsl, 1)]
            except NotCovered as why:
                print(json.dumps({"task": name, "declined": str(why)}), flush=True)
            if name == args.tasks.split(",")[0]:
                codes += [(Path(p).stem, Path(p).read_text()) for p in args.extra.split(",") if p]
            for cid, code in codes:
                for attempt in ("cold", "warm"):
                    start = time.perf_counter()
                    result = verifier.evaluate(task, Candidate(f"{cid}-{attempt}", args.dsl, code))
                    print(json.dumps({
                        "task": name, "candidate": cid, "attempt": attempt, "status": result.status.value, "rule": result.rule,
                        "message": result.message[:300], "log": result.log_tail[-600:] if not result.ok else "",
                        "wall_s": round(time.perf_counter() - start, 2), "prepare_s": round(prepared, 2),
                        "phases": {k: round(v, 3) for k, v in result.timings_s.items()},
                        "eager_ms": info.eager_ms, "speedup": result.profile.speedup if result.profile else None,
                        "flags": result.profile.flags if result.profile else [],
                    }), flush=True)
                    if not result.ok or cid not in ("example",):
                        break
    finally:
        verifier.close()


if __name__ == "__main__":
    main()
