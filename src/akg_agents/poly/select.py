"""Choosing a configuration per PolyBench kernel by measurement (the PolyTOPS idea), on one size.

For each kernel, the configurations of a search space (presets and variations of them) are
scheduled, compiled, checked against the original order and timed once, or as a median of 3
when the run is short (a candidate slower than 1.5x the best so far is cut off); the finalists
get more runs and the lowest median wins. When the arrays fit in the L2 caches at the selection
size but not at the reported one, an untiled schedule whose innermost loops cross rows is not a
candidate: the small size hides exactly what it costs (`cache_blind`, locality.py), unless that
would leave no candidate at all.
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

import numpy as np
import yaml

from . import kernels as kreg
from .config import from_dict
from .dsl import Kernel
from .locality import strided_accesses
from .pipeline import Built, build
from .runner import build_dir, compare, compile_c, run_once
from .tilemodel import CacheSizes, detect_caches

# below this a single run (cold cache, fresh process) varies by tens of percent at MEDIUM:
# bicg's 0.22 ms single run that won the screening had a median of 0.35 ms
SHORT_RUN_S = 0.02
FINAL_RUNS = 3  # runs of each finalist, its screening runs included: the median decides
FINAL_RUNS_SHORT = 7  # for short ones

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
    # unroll-and-jam by 8 (register reuse of the output across 8 reduction steps: covariance,
    # correlation, gemm, 2mm) and tiles handed out dynamically (triangular tile spaces): post.py
    "vec_uj8": {"base": "cpu_vectorize", "unroll_jam": 8},
    "vec_uj8_dyn": {"base": "cpu_vectorize", "unroll_jam": 8, "omp_schedule": "dynamic"},
    "vec_dyn": {"base": "cpu_vectorize", "omp_schedule": "dynamic"},
    "pluto_nofuse_uj8": {"base": "pluto_like", "fusion": "no", "intra_tile_stride1": True, "unroll_jam": 8},
}


def footprint_bytes(kernel: Kernel, size: str) -> int:
    """Bytes of all the kernel's arrays at `size` (doubles, as the harness allocates them)."""
    return sum(8 * int(np.prod(kernel.shape(a, size))) for a in kernel.arrays.values())


def cache_blind(kernel: Kernel, size: str, report_size: str | None, threads: int,
                caches: CacheSizes | None = None) -> bool:
    """True when the arrays fit in the threads' L2 caches at `size` but not at `report_size`.

    Then timings at `size` cannot see what leaving the cache costs: an untiled schedule whose
    innermost loop walks a matrix across its rows is as fast as a tiled one there, and pays a
    cache line per iteration at the reported size (locality.py: adi's feautrier_like schedule,
    chosen at MEDIUM in session 7's protocol, ran 30 s at LARGE against 6.4 s for a tiled one).
    """
    if report_size is None:
        return False
    budget = (caches or detect_caches()).l2 * max(1, threads)
    return footprint_bytes(kernel, size) <= budget < footprint_bytes(kernel, report_size)


def _left_out(k: Kernel, built: dict[str, Built], blind: bool, name: str,
              log: Callable[[str], None]) -> dict[str, str]:
    """Programs the cache-blind rule leaves out (source -> reason); none when it would leave out
    every one (ludcmp: no configuration tiles it, and the original crosses rows as they do):
    then the rule cannot choose and the measurement decides."""
    if not blind:
        return {}
    out: dict[str, str] = {}
    for b in built.values():
        # untiled as built: a band the post-pass could not tile counts, whatever the config says
        untiled = b.post is not None and not b.post.tiled_bands
        if untiled and (walks := strided_accesses(k, b.tree)):
            out[b.source] = f"left out: untiled, innermost loops cross rows in {walks} accesses"
    if built and all(b.source in out for b in built.values()):
        log(f"  {name:15s} every configuration would be left out: all are measured")
        return {}
    return out


def select_kernel(name: str, size: str, threads: int, log: Callable[[str], None],
                  space: dict[str, dict[str, Any]] | None = None,
                  report_size: str | None = None) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The fastest correct configuration of `space` for one kernel at `size`: (name, config dict, log).

    With `report_size` (the size the choice will be reported on) and a kernel that is cache-blind
    at `size` (`cache_blind`), an untiled schedule whose innermost loops cross rows is left out
    (not measured); untiled schedules that stream rows (the stencils' feautrier_like) stay in.
    "Untiled" is read from the built program (no band tiled), not from the config.
    """
    space = SEARCH_SPACE if space is None else space
    k = kreg.get(name)
    blind = cache_blind(k, size, report_size, threads)
    if blind:
        log(f"  {name:15s} arrays fit in L2 at {size}, not at {report_size}: untiled schedules that "
            "walk across rows innermost are left out")
    ref = build(k, "orig", size)
    assert ref is not None
    exe = compile_c(ref.source, "gcc", f"{name}-orig-{size}")
    ref_bin = build_dir() / f"tune-{name}-ref.bin"
    t_orig = run_once(exe, 1, ref_bin)
    log(f"  {name:15s} {'original':18s} {t_orig} (1 thread)")
    limit = max(3.0, 3 * t_orig)
    results: dict[str, Any] = {"orig": t_orig}
    exes: dict[str, Path] = {}  # compiled candidates, re-run for the finalists
    runs_of: dict[str, list[float]] = {}  # every run of a candidate (screening, then finals)
    # many configurations produce the same C for a kernel (a key it has nothing for): each
    # program is compiled and timed once, and a repeat is logged as the same code (a program
    # left out is remembered as such: another configuration emitting it is left out too)
    seen_sources: dict[str, str] = {}
    built: dict[str, Built] = {}
    for cname, cdict in space.items():  # scheduling is cheap next to timing: all first
        try:
            b = build(k, from_dict(dict(cdict), name=cname), size)
            assert b is not None
            built[cname] = b
        except Exception as exc:  # failing candidates simply lose
            results[cname] = f"error: {str(exc)[:60]}"
            log(f"  {name:15s} {cname:18s} {results[cname]}")
    left_out = _left_out(k, built, blind, name, log)
    for cname, b in built.items():
        timed_so_far = [t for t in results.values() if isinstance(t, float)]
        # prune: a candidate slower than 1.5x the best so far cannot win
        limit = min(limit, max(1.0, 1.5 * min(timed_so_far)))
        try:
            if b.source in left_out:
                results[cname] = left_out[b.source]
                log(f"  {name:15s} {cname:18s} {results[cname]}")
                continue
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
            runs_of[cname] = [t]
            if ok and t < SHORT_RUN_S:  # a short run is mostly noise: rank on a median of 3
                runs_of[cname] += [run_once(cexe, threads, timeout=limit) for _ in range(2)]
                t = sorted(runs_of[cname])[1]
            results[cname] = t if ok else "wrong"
        except subprocess.TimeoutExpired:
            results[cname] = f"pruned: slower than {limit:.3f} s"
        except Exception as exc:  # failing candidates simply lose
            results[cname] = f"error: {str(exc)[:60]}"
        log(f"  {name:15s} {cname:18s} {results[cname]}")
    timed = {c: t for c, t in results.items() if c != "orig" and isinstance(t, float)}
    if not timed:  # nothing measured right within the limits: keep the Pluto-like default
        return "pluto_like", {"base": "pluto_like"}, results
    # one run is noisy: the finalists (within 25% of the best screening time) get more runs
    # each (short ones more, they are cheap and noisier) and the lowest median wins
    fastest = min(timed.values())
    finalists = sorted((c for c, t in timed.items() if t <= 1.25 * fastest), key=timed.__getitem__)[:4]
    total = FINAL_RUNS_SHORT if fastest < SHORT_RUN_S else FINAL_RUNS
    medians: dict[str, float] = {}
    for cname in finalists:
        runs = runs_of[cname]
        runs += [run_once(exes[cname], threads) for _ in range(max(0, total - len(runs)))]
        medians[cname] = sorted(runs)[len(runs) // 2]
        log(f"  {name:15s} {cname:18s} median of {len(runs)}: {medians[cname]:.6f}")
    results["finalists"] = json.dumps(medians)
    best = min(medians, key=medians.__getitem__)
    return best, dict(space[best]), results


def select_all(names: list[str], size: str, threads: int, out: Path, log: Callable[[str], None],
               report_size: str | None = None) -> dict[str, Any]:
    """Select for every kernel (resuming `out` when it already has some) and write `out`."""
    table: dict[str, Any] = {}
    if out.exists():
        table = (yaml.safe_load(out.read_text()) or {}).get("kernels", {}) or {}
    for name in names:
        if name in table:
            continue
        best, cfg, _results = select_kernel(name, size, threads, log, report_size=report_size)
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
