"""Choosing a configuration per PolyBench kernel by measurement (the PolyTOPS idea), on one size.

For each kernel, the configurations of a search space (presets and variations of them) are
scheduled, compiled, checked against the original order and timed once (a candidate slower than
1.5x the best so far is cut off); the finalists get two more runs and the lowest median wins.
`akg_cli poly bench --select-on MEDIUM --size LARGE` selects on one size and reports another, so
no number in the report chose its own configuration; benchmarks/poly/tune.py writes a selection
to the overrides YAML.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from . import kernels as kreg
from .config import from_dict
from .pipeline import build
from .runner import build_dir, compare, compile_c, run_once

SEARCH_SPACE: dict[str, dict[str, Any]] = {
    "isl_like": {"base": "isl_like"},
    "pluto_like": {"base": "pluto_like"},
    "cpu_vectorize": {"base": "cpu_vectorize"},
    "feautrier_like": {"base": "feautrier_like"},
    "vec_notile": {"base": "cpu_vectorize", "tile": False},
    "vec_nofuse": {"base": "cpu_vectorize", "fusion": "no"},
    "vec_maxfuse": {"base": "cpu_vectorize", "fusion": "max"},
    "vec_nofuse_notile": {"base": "cpu_vectorize", "fusion": "no", "tile": False},
    "vec_bigtile": {"base": "cpu_vectorize", "tile_sizes": [64, 64, 256]},
    "pluto_vec": {"base": "pluto_like", "intra_tile_stride1": True, "simd": True},
    "pluto_nofuse": {"base": "pluto_like", "fusion": "no", "intra_tile_stride1": True},
    "isl_notile": {"base": "isl_like", "tile": False, "simd": True},
    "pluto_notile": {"base": "pluto_like", "tile": False, "simd": True},
    "vec_tile16": {"base": "cpu_vectorize", "tile_sizes": [16]},
    "vec_tile64": {"base": "cpu_vectorize", "tile_sizes": [64]},
    "pluto_vec_bigtile": {"base": "pluto_like", "intra_tile_stride1": True, "simd": True,
                          "tile_sizes": [64, 64, 256]},
    # reassociating variants: innermost reductions vectorized (reduction.py)
    "vec_red": {"base": "cpu_vectorize", "simd_reduction": True},
    "vec_nofuse_notile_red": {"base": "cpu_vectorize", "fusion": "no", "tile": False,
                              "simd_reduction": True},
    "pluto_red": {"base": "pluto_like", "simd": True, "simd_reduction": True},
    "pluto_vec_red": {"base": "pluto_like", "intra_tile_stride1": True, "simd": True,
                      "simd_reduction": True},
    "isl_notile_red": {"base": "isl_like", "tile": False, "simd": True, "simd_reduction": True},
    "pluto_notile_red": {"base": "pluto_like", "tile": False, "simd": True, "simd_reduction": True},
    # tile sizes from the cache sizes (tilemodel.py)
    "tilemodel": {"base": "cpu_tilemodel"},
    "tilemodel_quarter": {"base": "cpu_tilemodel", "tile_share": 0.25},
    "tilemodel_red": {"base": "cpu_tilemodel", "simd_reduction": True},
    "tilemodel_nofuse": {"base": "cpu_tilemodel", "fusion": "no"},
    # reduction loops in any order (relax.py)
    "vec_relax": {"base": "cpu_vectorize", "relax_reductions": True},
    "tilemodel_relax": {"base": "cpu_tilemodel", "relax_reductions": True},
    # concurrent start for bands without a parallel member (stencils), and reversal of loops
    # the program runs downwards (adi, deriche, ludcmp, nussinov): docs/poly.md section 3
    "vec_diamond": {"base": "cpu_vectorize", "diamond": True},
    "vec_reverse": {"base": "cpu_vectorize", "reversal": "descending"},
    # temporaries privatised to free outer parallelism (privatize.py; symm, doitgen, ludcmp):
    # off in the presets because the loaded machine measured it slower, so the selection decides
    "vec_priv": {"base": "cpu_vectorize", "privatize": True},
    "pluto_vec_priv": {"base": "pluto_like", "intra_tile_stride1": True, "simd": True, "privatize": True},
}


def select_kernel(name: str, size: str, threads: int, log: Callable[[str], None],
                  space: dict[str, dict[str, Any]] | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The fastest correct configuration of `space` for one kernel at `size`: (name, config dict, log)."""
    space = SEARCH_SPACE if space is None else space
    k = kreg.get(name)
    ref = build(k, "orig", size)
    assert ref is not None
    exe = compile_c(ref.source, "gcc", f"{name}-orig-{size}")
    ref_bin = build_dir() / f"tune-{name}-ref.bin"
    t_orig = run_once(exe, 1, ref_bin)
    limit = max(3.0, 3 * t_orig)
    results: dict[str, Any] = {"orig": t_orig}
    exes: dict[str, Path] = {}  # compiled candidates, re-run for the finalists
    # many configurations produce the same C for a kernel (a key it has nothing for): each
    # program is compiled and timed once, and a repeat is logged as the same code
    seen_sources: dict[str, str] = {}
    for cname, cdict in space.items():
        timed_so_far = [t for t in results.values() if isinstance(t, float)]
        # prune: a candidate slower than 1.5x the best so far cannot win
        limit = min(limit, max(1.0, 1.5 * min(timed_so_far)))
        try:
            b = build(k, from_dict(dict(cdict), name=cname), size)
            assert b is not None
            if b.source in seen_sources:
                results[cname] = f"same code as {seen_sources[b.source]}"
                log(f"  {name:15s} {cname:18s} {results[cname]}")
                continue
            seen_sources[b.source] = cname
            cexe = exes[cname] = compile_c(b.source, "gcc", f"{name}-tune-{cname}-{size}")
            got = build_dir() / f"tune-{name}-{cname}.bin"
            t = run_once(cexe, threads, got, timeout=limit)
            ok, _, _ = compare(k, size, ref_bin, got)
            got.unlink(missing_ok=True)
            results[cname] = t if ok else "wrong"
        except subprocess.TimeoutExpired:
            results[cname] = f"pruned: slower than {limit:.3f} s"
        except Exception as exc:  # failing candidates simply lose
            results[cname] = f"error: {str(exc)[:60]}"
        log(f"  {name:15s} {cname:18s} {results[cname]}")
    timed = {c: t for c, t in results.items() if c != "orig" and isinstance(t, float)}
    if not timed:  # nothing within 1.5x of the original: keep the Pluto-like default
        return "pluto_like", {"base": "pluto_like"}, results
    # one run is noisy: the finalists (within 25% of the best single run) get two more
    # runs each and the lowest median wins
    fastest = min(timed.values())
    finalists = sorted((c for c, t in timed.items() if t <= 1.25 * fastest), key=timed.__getitem__)[:4]
    medians: dict[str, float] = {}
    for cname in finalists:
        runs = [timed[cname]] + [run_once(exes[cname], threads) for _ in range(2)]
        medians[cname] = sorted(runs)[1]
        log(f"  {name:15s} {cname:18s} median of 3: {medians[cname]:.6f}")
    results["finalists"] = json.dumps(medians)
    best = min(medians, key=medians.__getitem__)
    return best, dict(space[best]), results


def select_all(names: list[str], size: str, threads: int, out: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Select for every kernel (resuming `out` when it already has some) and write `out`."""
    table: dict[str, Any] = {}
    if out.exists():
        table = (yaml.safe_load(out.read_text()) or {}).get("kernels", {}) or {}
    for name in names:
        if name in table:
            continue
        best, cfg, _results = select_kernel(name, size, threads, log)
        table[name] = {**cfg, "note": f"selected: {best} ({size}, {threads} threads)"}
        log(f"{name}: selected {best} on {size}")
        write_table(out, table, f"selected by akg_cli poly bench --select-on {size} ({threads} threads)")
    return table


def write_table(out: Path, table: dict[str, Any], how: str) -> None:
    class _NoAlias(yaml.SafeDumper):
        def ignore_aliases(self, data: object) -> bool:
            return True

    header = f"# Kernel-specific scheduler configurations, {how}.\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(header + yaml.dump({"kernels": table}, Dumper=_NoAlias, sort_keys=False, default_flow_style=None))
