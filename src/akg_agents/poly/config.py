"""Scheduler configuration: objectives, constraints, fusion, post-passes; presets and YAML.

The configuration is what makes the scheduler "configurable" in the PolyTOPS sense:
the same dimension-by-dimension algorithm becomes isl-like, Pluto-like or
Feautrier-like depending only on the ordered objective list and a few switches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

OBJECTIVES = {
    "parallel": "bound the distance of every dependence by u.N + w and minimise (u, w) first: "
                "zero means the dimension carries nothing (outer parallelism)",
    "proximity": "bound the distance of every dependence (plus RAR reuse if rar: true) by u.N + w "
                 "and minimise it (Pluto's locality objective)",
    "carry_max": "strongly satisfy as many dependences as possible (Feautrier)",
    "stride1_inner": "penalise putting stride-1 iterators on this (outer) dimension so they stay innermost",
    "large_outer": "penalise iterators with small trip counts on this dimension",
    "min_coef": "minimise the sum of schedule coefficients (simple, un-skewed loops)",
}
FUSIONS = ("max", "smart", "no")
SOLVERS = ("isl", "milp")


class ConfigError(ValueError):
    """Raised for malformed configurations (one clear line for the CLI)."""


@dataclass
class SchedConfig:
    name: str = "custom"
    objectives: list[str] = field(default_factory=lambda: ["proximity", "min_coef"])
    # per-dimension overrides of the objective list: {dim index: [objectives]}
    dim_objectives: dict[int, list[str]] = field(default_factory=dict)
    fusion: str = "smart"
    coef_bound: int = 4  # iterator coefficients in [0, coef_bound] (no loop reversal)
    # coefficients in [-coef_bound, coef_bound] (loop reversal, Pluto+): true for every
    # iterator, "descending" only for loops the program runs downwards (step -1; cheaper)
    reversal: bool | str = False
    # concurrent start (diamond tiling): a band with no parallel member gets its first row
    # replaced so that the first row lies strictly inside the cone of the band's rows
    diamond: bool = False
    shift_bound: int = 8  # constant shifts in [0, shift_bound]
    solver: str = "isl"
    rar: bool = False  # add read-after-read reuse to proximity (costly Farkas systems; Pluto --rar)
    # reduction chains (W op= e over loops hinted `reduce`) may run their reduction loops in any
    # order: their internal dependences are dropped (relax.py); sums are reassociated
    relax_reductions: bool = False
    # temporaries (output=False arrays) rewritten in every iteration of a loop are expanded over
    # it before scheduling and contracted back to per-iteration locals after (privatize.py);
    # "local": a web the schedule cannot contract is not expanded (the kernel is rescheduled)
    privatize: bool | str = False
    tile: bool = True
    tile_sizes: list[int] = field(default_factory=lambda: [32])  # last value repeats
    # tile sizes from the cache sizes and each band's footprint (tilemodel.py) instead of tile_sizes
    tile_model: bool = False
    tile_share: float = 0.5  # the share of the per-core L2 one tile's data may take
    elem_bytes: int = 8  # bytes per array element (PolyBench: double)
    cache_l2: int = 0  # per-core L2 bytes for the tile model; 0: this machine's (sysfs)
    intra_tile_stride1: bool = False
    # unroll-and-jam of the second innermost point loop of each tiled band by this factor
    # (unroll.py; 0 or 1: off)
    unroll_jam: int = 0
    wavefront: bool = False  # skew tile loops (T0+T1, T1..) when no tile loop is parallel
    parallel: bool = True  # omp parallel for on the outermost parallel loop
    # in a tile band whose outer tile loop carries dependences but a later one does not, move the
    # parallel tile loop outermost (any order of a permutable band is legal): one parallel region
    # over the whole band instead of one per outer tile (gramschmidt's R[k][j] += Q[i][k] * A[i][j]
    # had its i tiles outer and lost its parallel loop to min_parallel_work)
    outer_parallel: bool = True
    # "dynamic": parallel loops over tiles hand out one tile at a time, which balances triangular
    # tile spaces (covariance's j >= i: static gives one of 2 threads 3x the other's work) but
    # loses the thread-to-data affinity between successive regions (stencils measured slower)
    omp_schedule: str = "static"
    simd: bool = False  # omp simd on the innermost parallel loop
    # sequential innermost reduction loops as omp simd reduction (reassociates sums)
    simd_reduction: bool = False
    # a loop carrying only sum reductions (X += e) runs parallel with OpenMP reduction(+: X):
    # per-thread partial sums (reassociates sums; post.reduction_clause)
    parallel_reductions: bool = False
    # a parallel loop nested in sequential loops is marked only if one execution of it
    # covers at least this many statement instances (fork/join per outer iteration)
    min_parallel_work: int = 100000
    # per-statement directives, e.g. {"S1": {"serial": ["k"]}}
    directives: dict[str, dict[str, Any]] = field(default_factory=dict)

    def objectives_for(self, dim: int) -> list[str]:
        return self.dim_objectives.get(dim, self.objectives)

    def tile_size(self, member: int) -> int:
        sizes = self.tile_sizes or [32]
        return sizes[min(member, len(sizes) - 1)]

    def validate(self) -> SchedConfig:
        for obj in [*self.objectives, *(o for v in self.dim_objectives.values() for o in v)]:
            if obj not in OBJECTIVES:
                raise ConfigError(f"unknown objective {obj!r} (known: {', '.join(OBJECTIVES)})")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.fusion!r} (known: {', '.join(FUSIONS)})")
        if self.solver not in SOLVERS:
            raise ConfigError(f"unknown solver {self.solver!r} (known: {', '.join(SOLVERS)})")
        if self.coef_bound < 1 or self.shift_bound < 0:
            raise ConfigError("coef_bound must be >= 1 and shift_bound >= 0")
        # bool or str first: 1 == True would pass the membership test (and skip the isl budget)
        if not isinstance(self.reversal, (bool, str)) or self.reversal not in (False, True, "descending"):
            raise ConfigError("reversal must be true, false or descending")
        if any(int(t) < 1 for t in self.tile_sizes):
            raise ConfigError("tile sizes must be positive")
        if not isinstance(self.privatize, (bool, str)) or self.privatize not in (False, True, "local"):
            raise ConfigError(f"privatize must be false, true or local, not {self.privatize!r}")
        if self.omp_schedule not in ("static", "dynamic"):
            raise ConfigError(f"omp_schedule must be static or dynamic, not {self.omp_schedule!r}")
        # not bool: True == 1 would pass as "off"
        if isinstance(self.unroll_jam, bool) or not isinstance(self.unroll_jam, int) \
                or not 0 <= self.unroll_jam <= 16:
            raise ConfigError(f"unroll_jam must be an integer in [0, 16], not {self.unroll_jam!r}")
        if not 0 < self.tile_share <= 1 or self.elem_bytes < 1 or self.cache_l2 < 0:
            raise ConfigError("tile_share must be in (0, 1], elem_bytes >= 1 and cache_l2 >= 0")
        return self


PRESETS: dict[str, dict[str, Any]] = {
    # isl: coincidence (parallelism) first, then proximity; maximal fusion
    "isl_like": dict(objectives=["parallel", "proximity", "min_coef"], fusion="max"),
    # Pluto: minimise dependence distance bound (u, w) -> tileable, outer parallel; smartfuse
    "pluto_like": dict(objectives=["proximity", "min_coef"], fusion="smart", wavefront=True),
    # Feautrier: carry as many dependences as early as possible, no tiling, inner parallel
    "feautrier_like": dict(objectives=["carry_max", "min_coef"], fusion="max", tile=False,
                           simd=True),
    # CPU vectorisation: outer parallel, stride-1 innermost (also inside tiles), simd
    "cpu_vectorize": dict(objectives=["parallel", "stride1_inner", "large_outer", "proximity",
                                      "min_coef"],
                          fusion="smart", intra_tile_stride1=True, simd=True, wavefront=True),
    # cpu_vectorize with tile sizes from the cache sizes (tilemodel.py) instead of a fixed 32
    "cpu_tilemodel": dict(objectives=["parallel", "stride1_inner", "large_outer", "proximity",
                                      "min_coef"],
                          fusion="smart", intra_tile_stride1=True, simd=True, wavefront=True,
                          tile_model=True),
}


def preset(name: str) -> SchedConfig:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return SchedConfig(name=name, **copy.deepcopy(PRESETS[name])).validate()


_KEYS = {f.name for f in fields(SchedConfig)}


def from_dict(data: dict[str, Any], name: str = "custom") -> SchedConfig:
    """Build a config: ``base: <preset>`` then the given keys override it."""
    if not isinstance(data, dict):
        raise ConfigError("config must be a YAML mapping")
    data = dict(data)
    data.pop("note", None)  # free-text documentation of an entry
    base = data.pop("base", None)
    cfg = preset(base) if base else SchedConfig()
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(f"unknown config keys: {', '.join(sorted(unknown))}")
    for key, val in data.items():
        if key == "dim_objectives":
            val = {int(k): list(v) for k, v in (val or {}).items()}
        if key == "tile_sizes" and isinstance(val, int):
            val = [val]
        setattr(cfg, key, val)
    cfg.name = data.get("name", name if not base else f"{base}+{name}" if name != "custom" else base)
    return cfg.validate()


def load_yaml(path: str | Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read config {path}: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config {path} must be a YAML mapping")
    return data


def load_config(path: str | Path) -> SchedConfig:
    return from_dict(load_yaml(path), name=Path(path).stem)


def load_overrides(path: str | Path) -> dict[str, SchedConfig]:
    """Kernel-specific overrides: ``kernels: {name: {base: preset, key: value...}}``."""
    data = load_yaml(path)
    kernels = data.get("kernels")
    if not isinstance(kernels, dict):
        raise ConfigError(f"{path}: expected a top-level 'kernels:' mapping")
    return {k: from_dict(v or {}, name=f"override:{k}") for k, v in kernels.items()}
