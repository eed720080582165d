"""The configurable scheduler: one dimension at a time, Pluto/isl style.

Each step solves one ILP (``dimsolve``) for a hyperplane per statement that is valid
for every dependence still live at the start of the current band (so bands stay
permutable, hence tileable) and linearly independent of earlier rows.  When that
fails we first close the band, then cut (scalar dimension ordering the SCCs of the
remaining dependence graph), and as a last resort append the original schedule, which
is always valid after any prefix.  Dependence bookkeeping is exact: after each
dimension a dependence keeps only the pairs that dimension did not strictly order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import islpy as isl

from .config import SchedConfig
from .deps import Dependences
from .dimsolve import DimProblem, DimSolution, RemDep, access_costs, extent_costs, rank, solve_dim
from .dsl import Kernel


@dataclass
class Level:
    kind: str  # "band" (affine hyperplane per statement) or "scalar" (constant per statement)
    band: int  # band id (-1 for scalar levels)
    coef: dict[str, list[int]]
    const: dict[str, int]
    why: str
    carried: set[tuple[str, str]] = field(default_factory=set)  # pairs with non-zero distance


@dataclass
class ScheduleResult:
    kernel: Kernel
    config: SchedConfig
    levels: list[Level]
    seconds: float = 0.0
    fallback: bool = False
    log: list[str] = field(default_factory=list)

    def expr(self, st_name: str, lv: Level, names: list[str] | None = None) -> str:
        st = self.kernel.stmt_by_name(st_name)
        return affine_text(names or st.iters, lv.coef.get(st_name, []), lv.const.get(st_name, 0))

    def union_map(self) -> isl.UnionMap:
        k = self.kernel
        um = isl.UnionMap.empty(k.context().get_space())
        for st in k.statements:
            dims = ", ".join(self.expr(st.name, lv) for lv in self.levels) or "0"
            m = isl.UnionMap(f"{k.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] -> [{dims}] }}")
            um = um.union(m.intersect_domain(isl.UnionSet.from_set(k.domain_of(st))))
        return um


def affine_text(names: list[str], coef: list[int], const: int) -> str:
    terms = [f"{c}*{n}" if c not in (1, -1) else (n if c == 1 else f"-{n}")
             for n, c in zip(names, coef, strict=False) if c]
    if const or not terms:
        terms.append(str(const))
    return " + ".join(terms).replace("+ -", "- ")


class _State:
    def __init__(self, kernel: Kernel, deps: Dependences, cfg: SchedConfig) -> None:
        self.k, self.cfg = kernel, cfg
        self.rem = [RemDep(d.kind, d.src, d.dst, isl.Map.from_basic_map(d.rel))
                    for d in deps.split(with_input=cfg.rar and "proximity" in _all_objectives(cfg))]
        self.rows: dict[str, list[list[int]]] = {st.name: [] for st in kernel.statements}
        self.levels: list[Level] = []
        self.log: list[str] = []
        self.band_id = 0
        self.band_len = 0
        self.band_deps = list(self.rem)
        self.band_start = self._snapshot()
        self.costs = {
            "stride1_inner": {st.name: access_costs(kernel, st) for st in kernel.statements},
            "large_outer": {st.name: extent_costs(kernel, st) for st in kernel.statements},
        }

    def _snapshot(self) -> tuple[int, list[RemDep], dict[str, int]]:
        """Where the current band starts: level count, dependences, rows per statement."""
        return len(self.levels), list(self.rem), {n: len(r) for n, r in self.rows.items()}

    def rank_of(self, name: str) -> int:
        return rank(self.rows[name], self.k.stmt_by_name(name).depth)

    def need(self) -> dict[str, int]:
        return {st.name: st.depth - self.rank_of(st.name) for st in self.k.statements
                if st.depth - self.rank_of(st.name) > 0}

    def live(self) -> list[RemDep]:
        return [d for d in self.rem if d.validity and not d.rel.is_empty()]

    def done(self) -> bool:
        return not self.need() and not self.live()


def _all_objectives(cfg: SchedConfig) -> set[str]:
    return set(cfg.objectives).union(*cfg.dim_objectives.values()) if cfg.dim_objectives \
        else set(cfg.objectives)


def schedule(kernel: Kernel, deps: Dependences, cfg: SchedConfig) -> ScheduleResult:
    t0 = time.perf_counter()
    s = _State(kernel, deps, cfg)
    fallback = False
    if cfg.fusion != "max":
        _initial_cut(s)
    limit = 3 * (2 * kernel.max_depth + 1) + len(kernel.statements)
    while not s.done():
        if len(s.levels) > limit:
            fallback = True
            break
        if _try_band_dim(s):
            continue
        if s.band_len > 0:
            if cfg.diamond:
                _diamond(s)
            _close_band(s, "no further valid independent hyperplane in this band")
            continue
        if _cut(s):
            continue
        fallback = True
        break
    if fallback:
        _append_original(s)
    elif cfg.diamond and s.band_len > 0:
        _diamond(s)
    return ScheduleResult(kernel, cfg, s.levels, time.perf_counter() - t0, fallback, s.log)


def _try_band_dim(s: _State) -> bool:
    need = s.need()
    if not need:
        return False  # every statement is full rank: only scalar cuts can order the rest
    dim = len(s.levels)
    objectives = s.cfg.objectives_for(dim)
    band_deps = [d for d in s.band_deps if not d.rel.is_empty()]
    if "proximity" not in objectives:
        band_deps = [d for d in band_deps if d.validity]
    problem = DimProblem(s.k, s.cfg, objectives, band_deps,
                         {n: s.rows[n] for n in need}, need, s.costs, bool(s.cfg.reversal))
    sol = solve_dim(problem)
    if sol is None:
        return False
    objs = ", ".join(f"{k}={v}" for k, v in sol.objective.items() if not k.startswith("eps"))
    _add_level(s, "band", sol, f"ILP [{', '.join(objectives)}] -> {objs}")
    if "carry_max" in objectives:
        _close_band(s, "Feautrier-style: one dimension per band")
    return True


def _add_level(s: _State, kind: str, sol: DimSolution, why: str) -> None:
    lv = Level(kind, s.band_id if kind == "band" else -1, sol.coef, sol.const, why)
    eq_maps: dict[tuple[str, str], isl.Map] = {}  # one per statement pair (parsing dominated)

    def eq_map(d: RemDep) -> isl.Map:
        if (d.src, d.dst) not in eq_maps:
            eq_maps[(d.src, d.dst)] = _eq_map(s.k, d, lv)
        return eq_maps[(d.src, d.dst)]

    for d in (s.band_deps if kind == "band" else s.rem):
        if d.validity and not d.rel.is_empty() and not d.rel.is_subset(eq_map(d)):
            lv.carried.add((d.src, d.dst))
    new_rem = []
    for d in s.rem:
        rel = d.rel if d.rel.is_empty() else d.rel.intersect(eq_map(d)).coalesce()
        new_rem.append(RemDep(d.kind, d.src, d.dst, rel))
    s.rem = new_rem
    if kind == "band":
        for name, row in sol.coef.items():
            if any(row):
                s.rows[name].append(row)
        s.band_len += 1
    s.levels.append(lv)
    s.log.append(f"dim {len(s.levels) - 1} ({kind}{'' if kind == 'scalar' else ' ' + str(lv.band)}): {why}")


def _eq_map(k: Kernel, d: RemDep, lv: Level) -> isl.Map:
    src, dst = k.stmt_by_name(d.src), k.stmt_by_name(d.dst)
    sn = [f"s_{i}" for i in src.iters]
    tn = [f"t_{i}" for i in dst.iters]
    lhs = affine_text(sn, lv.coef.get(d.src, []), lv.const.get(d.src, 0))
    rhs = affine_text(tn, lv.coef.get(d.dst, []), lv.const.get(d.dst, 0))
    return isl.Map(f"{k.param_decl} -> {{ {d.src}[{', '.join(sn)}] -> {d.dst}[{', '.join(tn)}] : "
                   f"{lhs} = {rhs} }}")


def _close_band(s: _State, reason: str) -> None:
    if s.band_len:
        s.log.append(f"   band {s.band_id} closed: {reason}")
        s.band_id += 1
    s.band_len = 0
    s.band_deps = [d for d in s.rem if not d.rel.is_empty()]
    s.band_start = s._snapshot()


def _diamond(s: _State) -> None:
    """Concurrent start (Pluto's diamond tiling, Bondhugula et al. 2017) for the open band.

    A band of >= 2 rows none of which is parallel (every one carries a dependence: tiles
    can only run as a pipelined wavefront) gets its first row f replaced by a row
    phi = lam * f - h2 (h2 the band row with the fewest stride-1 iterators, moved second:
    the tile wavefront pairs rows 0 and 1), lam >= 1, valid for the dependences live
    at the band's start, found by the ILP with signed coefficients and the band's first
    objectives.  f = (phi + h2) / lam then lies strictly inside the cone of the first two
    rows, so the tiles along the face f start at once (concurrent start along one
    dimension, as Pluto does by default): the first front of the tile wavefront T0 + T1 is
    full (jacobi-1d: (t, 2t+i) becomes (2t-i, 2t+i)).  Every row is still valid at the
    band's start, so the band stays permutable, and its span is unchanged.  The band's
    levels are replayed so that the dependence bookkeeping stays exact.  (The
    full-dimensional form, phi = lam * f - h2 - ... - hk, made the exact validity check of
    the tiled jacobi-2d schedule take minutes.)
    """
    start, rem, nrows = s.band_start
    band = s.levels[start:]
    if len(band) < 2 or any(lv.kind != "band" or not lv.carried for lv in band):
        return
    # the partner row: the one with the fewest stride-1 iterators (they stay in an un-skewed
    # row for the innermost point loop; fdtd-2d pairs t with t+i, not t+j)
    stride = s.costs["stride1_inner"]

    def cost(lv: Level) -> int:
        return sum(c * abs(x) for st in s.k.statements
                   for c, x in zip(stride[st.name], lv.coef.get(st.name, []), strict=False))

    pick = min(range(1, len(band)), key=lambda m: (cost(band[m]), m))
    cone: dict[str, tuple[list[int], list[int]]] = {}
    for st in s.k.statements:
        face = band[0].coef.get(st.name, [])
        if any(face):
            cone[st.name] = (face, band[pick].coef[st.name])
    if not cone:
        return
    deps = [d for d in s.band_deps if not d.rel.is_empty()]
    objectives = s.cfg.objectives_for(start)
    if "proximity" not in objectives:
        deps = [d for d in deps if d.validity]
    # statements without a face row keep their row (independence is implied for the others)
    fixed = {st.name: band[0].coef.get(st.name, []) for st in s.k.statements if st.name not in cone}
    need = {st.name: st.depth - nrows[st.name] for st in s.k.statements}
    problem = DimProblem(s.k, s.cfg, [o for o in objectives if o != "carry_max"], deps, {}, need,
                         s.costs, True, cone, fixed)
    sol = solve_dim(problem)
    if sol is None:
        s.log.append(f"   band {s.band_id}: no concurrent-start row (diamond)")
        return
    s.levels, s.rem = s.levels[:start], rem
    for name, count in nrows.items():
        del s.rows[name][count:]
    s.band_len = 0
    _add_level(s, "band", sol, f"diamond: concurrent-start row replacing {band[0].why}")
    for lv in [band[pick], *(lv for m, lv in enumerate(band) if m not in (0, pick))]:
        _add_level(s, "band", DimSolution(lv.coef, lv.const), lv.why)


def _sccs(names: list[str], edges: set[tuple[str, str]]) -> list[list[str]]:
    """SCCs in a topological order; ties broken by original statement order."""
    idx = {n: i for i, n in enumerate(names)}
    reach = {n: {n} for n in names}
    changed = True
    while changed:  # transitive closure; statement counts are tiny
        changed = False
        for a, b in edges:
            new = reach[b] - reach[a]
            if new:
                reach[a] |= new
                changed = True
    comps: list[list[str]] = []
    seen: set[str] = set()
    for n in names:
        if n not in seen:
            comp = [m for m in names if m in reach[n] and n in reach[m]]
            seen.update(comp)
            comps.append(comp)
    order: list[list[str]] = []
    left = list(comps)
    while left:  # Kahn's algorithm, lowest statement index first
        ready = [c for c in left if not any((a, b) in edges for o in left if o is not c
                                              for a in o for b in c)]
        pick = min(ready or left, key=lambda c: min(idx[m] for m in c))
        order.append(pick)
        left.remove(pick)
    return order


def _cut(s: _State) -> bool:
    edges = {(d.src, d.dst) for d in s.live()}
    names = [st.name for st in s.k.statements]
    comps = _sccs(names, edges)
    pos = {n: i for i, c in enumerate(comps) for n in c}
    if not any(pos[a] != pos[b] for a, b in edges):
        return False  # cutting would not order any live dependence
    sol = DimSolution({n: [0] * s.k.stmt_by_name(n).depth for n in names}, pos)
    _add_level(s, "scalar", sol, f"cut: {len(comps)} SCCs {[c for c in comps]} (ILP infeasible)")
    _close_band(s, "scalar cut")
    return True


def _initial_cut(s: _State) -> None:
    edges = {(d.src, d.dst) for d in s.live()}
    names = [st.name for st in s.k.statements]
    comps = _sccs(names, edges)
    groups: dict[str, int] = {}
    g, prev_dim = 0, None
    for comp in comps:
        dim = max(s.k.stmt_by_name(n).depth for n in comp)
        if prev_dim is not None and (s.cfg.fusion == "no" or dim != prev_dim):
            g += 1
        prev_dim = dim
        for n in comp:
            groups[n] = g
    if g == 0:
        return
    sol = DimSolution({n: [0] * s.k.stmt_by_name(n).depth for n in names}, groups)
    _add_level(s, "scalar", sol, f"{s.cfg.fusion}-fuse: initial distribution into {g + 1} groups")
    _close_band(s, "distribution")


def _append_original(s: _State) -> None:
    """Complete with the original 2d+1 schedule: valid after any prefix."""
    k = s.k
    _close_band(s, "fallback")
    s.log.append("   fallback: appending the original schedule dimensions")
    for d in range(2 * k.max_depth + 1):
        coef, const = {}, {}
        for st in k.statements:
            coef[st.name] = [0] * st.depth
            const[st.name] = 0
            if d % 2 == 0:
                const[st.name] = st.position[d // 2] if d // 2 <= st.depth else 0
            elif d // 2 < st.depth:
                coef[st.name][d // 2] = st.loops[d // 2].step
        kind = "scalar" if d % 2 == 0 else "band"
        _add_level(s, kind, DimSolution(coef, const), "original schedule (fallback)")
        if kind == "band":
            _close_band(s, "original loop")
