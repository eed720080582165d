"""End-to-end: kernel + variant -> schedule tree -> post-passes -> C source.

Variants: ``orig`` (original order), ``isl`` (isl's scheduler, same post-pass and
codegen as ours), ``polly`` (original source compiled by clang-14 with Polly), ``pluto``
(the original source through Pluto's polycc, then gcc; pluto.py), any
preset name, ``override`` (the kernel-specific YAML entry) or a SchedConfig.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import islpy as isl

from .codegen import ast_of, ast_to_c, program
from .config import PRESETS, SchedConfig, load_overrides, preset
from .deps import Dependences, check_schedule, compute_dependences
from .dsl import Kernel
from .pluto import transform as pluto_transform
from .post import PostInfo, postpass
from .privatize import Privatized, contract, expand
from .relax import relax_reductions
from .scheduler import ScheduleResult, schedule
from .tree import isl_schedule, to_tree

BASELINES = ("orig", "isl", "polly", "pluto")
DEFAULT_OVERRIDES = Path(__file__).with_name("overrides.yaml")
# isl baseline post-pass: the same tiling / OpenMP path as our presets (no simd, no reorder)
ISL_POST = SchedConfig(name="isl-post", tile=True, parallel=True, simd=False)


@dataclass
class Built:
    variant: str
    source: str
    compiler: str  # "gcc" or "polly"
    sched_seconds: float = 0.0
    pragmas: int = 0
    post: PostInfo | None = None
    result: ScheduleResult | None = None
    tree: isl.Schedule | None = None
    notes: list[str] = field(default_factory=list)


_DEPS: dict[str, Dependences] = {}


def dependences(kernel: Kernel) -> Dependences:
    if kernel.name not in _DEPS:
        _DEPS[kernel.name] = compute_dependences(kernel)
    return _DEPS[kernel.name]


def config_for(kernel: Kernel, variant: str | SchedConfig,
               overrides: Path | None = None) -> SchedConfig | None:
    if isinstance(variant, SchedConfig):
        return variant
    if variant in PRESETS:
        return preset(variant)
    if variant == "override":
        table = load_overrides(overrides or DEFAULT_OVERRIDES)
        return table.get(kernel.name)
    return None


def build(kernel: Kernel, variant: str | SchedConfig, size: str,
          overrides: Path | None = None, verify: bool = True, polycc: Path | None = None) -> Built | None:
    """C source for one variant; None when the variant does not apply (no override; no polycc)."""
    name = variant.name if isinstance(variant, SchedConfig) else variant
    if variant == "orig":
        return Built("orig", program(kernel, kernel.reference_c(), size, macros=False), "gcc")
    if variant == "polly":
        return Built("polly", program(kernel, kernel.reference_c(), size, macros=False), "polly")
    if variant == "pluto":  # Pluto's output of the original program, compiled by gcc (pluto.py)
        if polycc is None:
            return None
        source, secs = pluto_transform(kernel, size, polycc)
        return Built("pluto", source, "gcc", secs)
    deps = dependences(kernel)
    if variant == "isl":
        t0 = time.perf_counter()
        tree = isl_schedule(kernel, deps)
        secs = time.perf_counter() - t0
        return _finish(kernel, "isl", tree, ISL_POST, size, secs, None, verify)
    cfg = config_for(kernel, variant, overrides)
    if cfg is None:
        return None
    if cfg.privatize:
        return _privatized(kernel, name, cfg, size, verify)
    t0 = time.perf_counter()
    if cfg.relax_reductions:
        deps = relax_reductions(kernel, deps)
    res = schedule(kernel, deps, cfg)
    tree = to_tree(res)
    secs = time.perf_counter() - t0
    return _finish(kernel, name, tree, cfg, size, secs, res, verify, deps)


def _privatized(kernel: Kernel, name: str, cfg: SchedConfig, size: str, verify: bool) -> Built:
    """Schedule with the temporaries expanded, contract them after (privatize.py).

    ``privatize: local``: webs the final schedule keeps expanded are left alone and the
    kernel is scheduled again, until every expanded web became a private local (or none is left).
    """
    skip: frozenset[tuple[str, tuple[str, ...]]] = frozenset()
    secs = 0.0
    while True:
        t0 = time.perf_counter()
        priv = expand(kernel, skip)
        deps = compute_dependences(priv.kernel)
        if cfg.relax_reductions:
            deps = relax_reductions(priv.kernel, deps)
        res = schedule(priv.kernel, deps, cfg)
        tree = to_tree(res)
        secs += time.perf_counter() - t0
        built = _finish(priv.kernel, name, tree, cfg, size, secs, res, verify, deps, priv)
        if cfg.privatize != "local" or not priv.kept:
            return built
        skip = skip | {(w.array, tuple(w.stmts)) for w in priv.kept}


def _finish(kernel: Kernel, name: str, tree: isl.Schedule, cfg: SchedConfig, size: str,
            secs: float, res: ScheduleResult | None, verify: bool,
            deps: Dependences | None = None, priv: Privatized | None = None) -> Built:
    deps = deps or dependences(kernel)
    notes: list[str] = []
    if verify:
        bad = check_schedule(tree.get_map(), deps.all)
        if bad:
            raise ScheduleError(f"{kernel.name}/{name}: invalid schedule: {bad[0]}")
    final, info = postpass(tree, kernel, cfg, kernel.sizes[size], deps.all)
    if verify:
        bad = check_schedule(final.get_map(), deps.all)
        if bad:
            raise ScheduleError(f"{kernel.name}/{name}: post-pass broke validity: {bad[0]}")
    decls: dict[str, str] = {}
    if priv is not None:  # contract the expanded temporaries the final schedule allows
        final, kernel, decls, lines = contract(priv, final)
        notes += lines
    body, pragmas = ast_to_c(ast_of(final, kernel), kernel=kernel, simd_reduction=cfg.simd_reduction,
                             locals_=decls)
    if res is not None and res.fallback:
        notes.append("fallback to original order for the innermost dimensions")
    return Built(name, program(kernel, body, size), "gcc", secs, pragmas, info, res, final, notes)


class ScheduleError(RuntimeError):
    pass
