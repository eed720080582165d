"""Pick a kernel-specific configuration per PolyBench kernel (the PolyTOPS idea).

For each kernel, a small set of candidate configurations (presets and a few
variations of them) is scheduled, compiled, checked against the original order and
timed once; the fastest *correct* one is written to the overrides YAML.  The final
numbers come from ``akg_cli poly bench`` (5-run protocol), not from this search.

usage: python benchmarks/poly/tune.py [--size LARGE] [--threads 2] [--kernels a,b]
                                      [--out src/akg_agents/poly/overrides.yaml]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import yaml

from akg_agents.poly import kernels as kreg
from akg_agents.poly.select import SEARCH_SPACE, select_kernel

CANDIDATES = SEARCH_SPACE


def tune_kernel(name: str, size: str, threads: int, log) -> tuple[str, dict, dict]:  # type: ignore[no-untyped-def]
    return select_kernel(name, size, threads, log)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="LARGE")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--kernels", default="all")
    ap.add_argument("--out", default="src/akg_agents/poly/overrides.yaml")
    ap.add_argument("--log", default="benchmarks/poly/results/tune_log.jsonl")
    ap.add_argument("--candidates", default="all", help="comma list of candidate names")
    args = ap.parse_args()
    names = kreg.names() if args.kernels == "all" else args.kernels.split(",")
    if args.candidates != "all":
        for c in [c for c in CANDIDATES if c not in args.candidates.split(",")]:
            del CANDIDATES[c]
    out = Path(args.out)
    table = (yaml.safe_load(out.read_text()) or {}).get("kernels", {}) if out.exists() else {}
    for name in names:
        t0 = time.time()
        best, cfg, results = tune_kernel(name, args.size, args.threads, print)
        table[name] = {**cfg, "note": f"tuned: {best} ({args.size}, {args.threads} threads)"}
        with Path(args.log).open("a") as f:
            f.write(json.dumps({"kernel": name, "best": best, "results": results}) + "\n")
        print(f"{name}: best {best} ({time.time() - t0:.0f}s)", flush=True)
        _write(out, table)


def _write(out: Path, table: dict) -> None:
    header = ("# Kernel-specific scheduler configurations (PolyTOPS-style overrides).\n"
              "# Each entry: base preset + overridden keys; produced by benchmarks/poly/tune.py\n"
              "# (fastest correct candidate at LARGE, 2 threads) and editable by hand.\n")
    class _NoAlias(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    out.write_text(header + yaml.dump({"kernels": table}, Dumper=_NoAlias, sort_keys=False,
                                      default_flow_style=None))


if __name__ == "__main__":
    main()
