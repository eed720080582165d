"""Scheduling time of every PolyBench kernel under every preset and its override, and the
fingerprint of what the scheduler produced (to check that a speed-up changed no schedule).

Times (seconds, per kernel x variant, the minimum over ``--repeat`` rounds; the rounds are
interleaved: every cell once per round):
  deps   dependence analysis (compute_dependences; once per kernel, shared by its variants)
  sched  relax_reductions (if configured) + schedule() + to_tree(): what `poly bench` reports
         as sched_s (wall clock; sched_cpu: the process's CPU time, less inflated by other load)
  post   post-passes + isl AST + C text
The Farkas cache and the lazy rows' seed are cleared before each cell, so no variant profits
from an earlier one.

Fingerprint per cell: sha256 of the schedule levels (coefficients, constants, kinds) and of the
generated C body.  ``--save FILE`` writes them, ``--check FILE`` compares the cells run with a
saved file and exits 1 on any difference (or a cell the file lacks).  The code before the
scheduling-time work: benchmarks/results/poly/sched_fingerprints_LARGE.json (all 300 cells).

``--conv`` adds the cpu_small product tasks (14 matmul, 15 linear+bias+relu, 16 conv2d,
19 MLP) lowered by the built-in generator, under every preset x fusion (no / smart / max),
relax on, unpacked and packed.

usage: python benchmarks/poly/sched_time.py [--kernels a,b] [--variants v,w] [--repeat 3]
          [--conv] [--out DIR] [--save F | --check F]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import akg_agents.poly.kernels as kreg
from akg_agents.poly import farkas, ilp
from akg_agents.poly.codegen import ast_of, ast_to_c
from akg_agents.poly.config import PRESETS, SchedConfig
from akg_agents.poly.deps import Dependences, compute_dependences
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import config_for
from akg_agents.poly.post import postpass
from akg_agents.poly.relax import relax_reductions
from akg_agents.poly.scheduler import ScheduleResult, schedule
from akg_agents.poly.tree import to_tree

CONV_TASKS = ("14_matmul", "15_linear_bias_relu", "16_conv2d", "19_mlp_residual")


def levels_text(res: ScheduleResult) -> str:
    return json.dumps([[lv.kind, lv.band, lv.coef, lv.const] for lv in res.levels], sort_keys=True)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def one_cell(kernel: Kernel, deps: Dependences, cfg: SchedConfig, sizes: dict[str, int],
             acc_type: str = "double") -> dict[str, Any]:
    farkas._CACHE.clear()
    getattr(ilp, "_SEEN", set()).clear()  # no warm start from the previous cell's rows
    t0, c0 = time.perf_counter(), time.process_time()
    d = relax_reductions(kernel, deps) if cfg.relax_reductions else deps
    res = schedule(kernel, d, cfg)
    tree = to_tree(res)
    t1, c1 = time.perf_counter(), time.process_time()
    final, _info = postpass(tree, kernel, cfg, sizes)
    body, _pragmas = ast_to_c(ast_of(final, kernel), kernel=kernel, simd_reduction=cfg.simd_reduction,
                              acc_type=acc_type)
    t2 = time.perf_counter()
    return {"sched": t1 - t0, "sched_cpu": c1 - c0, "post": t2 - t1, "levels": _sha(levels_text(res)), "c": _sha(body),
            "fallback": res.fallback}


Cell = tuple[str, str]  # (kernel, variant)
Entry = tuple[Cell, Callable[[], dict[str, Any]], Callable[[], float]]


def polybench_cells(names: list[str], variants: list[str], size: str) -> list[Entry]:
    out: list[Entry] = []
    for name in names:
        kernel = kreg.get(name)
        state: dict[str, Dependences] = {}

        def deps_time(kernel: Kernel = kernel, state: dict[str, Dependences] = state) -> float:
            t0 = time.perf_counter()
            state["deps"] = compute_dependences(kernel)
            return time.perf_counter() - t0

        for variant in variants:
            cfg = config_for(kernel, variant)
            if cfg is None:
                continue

            def run(kernel: Kernel = kernel, cfg: SchedConfig = cfg,
                    state: dict[str, Dependences] = state) -> dict[str, Any]:
                if "deps" not in state:
                    state["deps"] = compute_dependences(kernel)
                return one_cell(kernel, state["deps"], cfg, kernel.sizes[size])

            out.append(((name, variant), run, deps_time))
    return out


def _conv_cells() -> list[Entry]:
    from akg_agents.builtin.poly_cpp import PolyParams, sched_config, trace_poly_program
    from akg_agents.records import Task

    root = Path(kreg.__file__).resolve().parents[2] / "bench" / "suites" / "cpu_small"
    out: list[Entry] = []
    for task_name in CONV_TASKS:
        task = Task(name=task_name, source=(root / f"{task_name}.py").read_text())
        for pack in (False, True):
            kernel = trace_poly_program(task, pack).kernel
            state: dict[str, Dependences] = {}

            def deps_time(kernel: Kernel = kernel, state: dict[str, Dependences] = state) -> float:
                t0 = time.perf_counter()
                state["deps"] = compute_dependences(kernel)
                return time.perf_counter() - t0

            for pre in PRESETS:
                for fusion in ("no", "smart", "max"):
                    cfg = sched_config(PolyParams(preset=pre, fusion=fusion))

                    def run(kernel: Kernel = kernel, cfg: SchedConfig = cfg,
                            state: dict[str, Dependences] = state) -> dict[str, Any]:
                        if "deps" not in state:
                            state["deps"] = compute_dependences(kernel)
                        return one_cell(kernel, state["deps"], cfg, {}, acc_type="float")

                    out.append(((f"{task_name}{'' if pack else '-unpacked'}", f"{pre}/{fusion}"),
                                run, deps_time))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", default="all")
    ap.add_argument("--variants", default=",".join([*PRESETS, "override"]))
    ap.add_argument("--size", default="LARGE")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--conv", action="store_true", help="add the cpu_small product tasks (built-in lowering)")
    ap.add_argument("--no-polybench", action="store_true")
    ap.add_argument("--match", help="only cells whose 'kernel|variant' matches this regular expression")
    ap.add_argument("--out", type=Path, help="folder for times.json and times.md")
    ap.add_argument("--save", type=Path, help="write the fingerprints here")
    ap.add_argument("--check", type=Path, help="compare the fingerprints with this file")
    args = ap.parse_args()
    names = kreg.names() if args.kernels == "all" else args.kernels.split(",")
    variants = args.variants.split(",")
    for v in variants:
        if v != "override" and v not in PRESETS:
            print(f"unknown variant {v!r} (known: {', '.join([*PRESETS, 'override'])})", file=sys.stderr)
            return 2
    cells = [] if args.no_polybench else polybench_cells(names, variants, args.size)
    if args.conv:
        cells += _conv_cells()
    if args.match:
        cells = [c for c in cells if re.search(args.match, f"{c[0][0]}|{c[0][1]}")]
    times: dict[Cell, list[dict[str, Any]]] = {c: [] for c, _, _ in cells}
    dtimes: dict[str, list[float]] = {}
    for rnd in range(args.repeat):
        seen_kernels: set[str] = set()
        for cell, run, deps_time in cells:
            if cell[0] not in seen_kernels:
                seen_kernels.add(cell[0])
                dtimes.setdefault(cell[0], []).append(deps_time())
            r = run()
            times[cell].append(r)
            print(f"round {rnd} {cell[0]:28s} {cell[1]:24s} sched {r['sched']:7.3f} cpu {r['sched_cpu']:7.3f}"
                  f" post {r['post']:6.3f}"
                  f" {r['levels']} {r['c']}", flush=True)
    rows = []
    for cell, rs in times.items():
        rows.append({"kernel": cell[0], "variant": cell[1], "deps": min(dtimes[cell[0]]),
                     "sched": min(r["sched"] for r in rs), "sched_median": statistics.median(r["sched"] for r in rs),
                     "sched_cpu": min(r["sched_cpu"] for r in rs),
                     "post": min(r["post"] for r in rs), "levels": rs[0]["levels"], "c": rs[0]["c"],
                     "fallback": rs[0]["fallback"],
                     "stable": len({(r["levels"], r["c"]) for r in rs}) == 1})
    for key in ("sched", "sched_cpu"):
        worst = max(rows, key=lambda r: r[key])
        print(f"worst {key}: {worst['kernel']} / {worst['variant']}: {worst[key]:.3f} s "
              f"(wall {worst['sched']:.3f} s, cpu {worst['sched_cpu']:.3f} s; deps {worst['deps']:.3f} s)")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "times.json").write_text(json.dumps(rows, indent=1))
        (args.out / "times.md").write_text(_markdown(rows, variants if not args.no_polybench else []))
    status = 0
    prints = {f"{r['kernel']}|{r['variant']}": [r["levels"], r["c"]] for r in rows}
    if not all(r["stable"] for r in rows):
        print("NONDETERMINISTIC: " + ", ".join(f"{r['kernel']}/{r['variant']}" for r in rows if not r["stable"]))
        status = 1
    if args.save:
        args.save.write_text(json.dumps(prints, indent=1, sort_keys=True))
    if args.check:
        ref = json.loads(args.check.read_text())
        # the cells run here (a subset with --kernels/--variants/--match); a cell the file lacks fails
        diff = [k for k in sorted(prints) if ref.get(k) != prints[k]]
        print(f"fingerprints: {len(prints) - len(diff)} identical, {len(diff)} different or not in the file"
              + (": " + ", ".join(diff[:20]) if diff else "")
              + f" ({len(set(ref) - set(prints))} cells of the file not run)")
        status = status or (1 if diff else 0)
    return status


def _markdown(rows: list[dict[str, Any]], variants: list[str]) -> str:
    lines = ["Seconds (minimum over the rounds). deps: dependence analysis (once per kernel); "
             "other columns: scheduling wall time (relax + schedule + to_tree) per variant, "
             "its CPU time in parentheses; post-passes + AST + C are in times.json.", ""]
    by = {(r["kernel"], r["variant"]): r for r in rows}
    kernels = list(dict.fromkeys(r["kernel"] for r in rows))
    cols = variants or list(dict.fromkeys(r["variant"] for r in rows))
    if variants:
        lines += ["| kernel | deps | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
        for k in kernels:
            dep = next(r["deps"] for r in rows if r["kernel"] == k)
            cells = [f"{by[(k, v)]['sched']:.3f} ({by[(k, v)]['sched_cpu']:.3f})" if (k, v) in by else "-"
                     for v in cols]
            lines.append(f"| {k} | {dep:.3f} | " + " | ".join(cells) + " |")
        conv = [r for r in rows if r["variant"] not in variants]
    else:
        conv = rows
    if conv:
        lines += ["", "| task | config | deps | sched | sched cpu | post |", "|---|---|---|---|---|---|"]
        for r in conv:
            lines.append(f"| {r['kernel']} | {r['variant']} | {r['deps']:.3f} | {r['sched']:.3f} | "
                         f"{r['sched_cpu']:.3f} | {r['post']:.3f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
