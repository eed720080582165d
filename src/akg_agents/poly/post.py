"""Post-passes on isl schedule trees: tiling, intra-tile loop order, OpenMP marks.

* permutable bands of >= 2 members are tiled (sizes from the config);
* inside a tile, the member giving stride-1 accesses moves innermost (legal because
  any order of a permutable band is valid);
* the outermost coincident member on each path gets an ``omp_parallel`` mark, the
  innermost coincident member of a leaf band an ``omp_simd`` mark;
* with ``parallel_reductions``, a band with no coincident member may still get an
  ``omp_parallel`` mark on a member whose only carried conflicts are sum reductions
  (``X[..] += e`` with ``e`` free of ``X``, every access to ``X`` under the loop such an
  update): OpenMP's ``reduction(+: X)`` clause gives each thread private partial sums
  (privatisation) combined at the loop's end (bicg's ``s[j] += r[i] * A[i][j]`` under
  a parallel ``i``).  Like ``simd_reduction`` this reassociates the sums.
Coincidence flags come from the scheduler (exact per-band checks) or from isl.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import islpy as isl

from .config import SchedConfig
from .dsl import Kernel
from .reduction import parse_reduction
from .tilemodel import CacheSizes, band_tile_sizes, detect_caches
from .unroll import insert_band, is_unroll_band, multi, unroll_jam

BAND = isl.schedule_node_type.band
LEAF = isl.schedule_node_type.leaf


@dataclass
class PostInfo:
    tiled_bands: list[int] = field(default_factory=list)  # band sizes that were tiled
    tile_sizes: list[list[int]] = field(default_factory=list)  # the sizes each tiled band got
    parallel_marks: int = 0
    simd_marks: int = 0
    reordered: int = 0
    wavefronts: int = 0
    unroll_jams: int = 0
    outer_parallel: int = 0  # tile bands whose parallel tile loop was moved outermost
    # partial schedules of the tile bands (no wavefront): their loops run over tiles
    tile_loops: set[str] = field(default_factory=set)
    reduction_marks: list[str] = field(default_factory=list)  # the clauses of reduction loops


def postpass(sched: isl.Schedule, kernel: Kernel, cfg: SchedConfig,
             sizes: dict[str, int] | None = None, deps: isl.UnionMap | None = None) -> tuple[isl.Schedule, PostInfo]:
    """`deps` (the dependences the schedule was checked against) lets `outer_parallel` verify a
    move exactly; without them no tile loop is moved."""
    info = PostInfo()
    node = sched.get_root()
    if cfg.tile:
        node = _walk(node, lambda n: _tile(n, kernel, cfg, info, deps))
    node = _mark(node.root(), kernel, cfg, info, False, sizes)
    return node.get_schedule(), info


def _walk(node: isl.ScheduleNode, fn) -> isl.ScheduleNode:  # type: ignore[no-untyped-def]
    """Pre-order walk; ``fn`` may rewrite a band and returns the node at the same spot."""
    if node.get_type() == BAND:
        node = fn(node)
    for i in range(node.n_children()):
        node = _walk(node.child(i), fn).parent()
    return node


def _tile(node: isl.ScheduleNode, kernel: Kernel, cfg: SchedConfig, info: PostInfo,
          deps: isl.UnionMap | None = None) -> isl.ScheduleNode:
    n = node.band_n_member()
    if n < 2 or not node.band_get_permutable():
        return node
    space = node.band_get_space()
    sizes = isl.MultiVal.zero(space)
    chosen = [cfg.tile_size(i) for i in range(n)]
    if cfg.tile_model:
        caches = CacheSizes(l2=cfg.cache_l2) if cfg.cache_l2 else detect_caches()
        chosen = band_tile_sizes(node, kernel, caches, cfg.tile_share, cfg.elem_bytes)
    info.tile_sizes.append(chosen)
    for i in range(n):
        sizes = sizes.set_val(i, isl.Val(chosen[i]))
    node = node.band_tile(sizes)
    info.tiled_bands.append(n)
    if cfg.parallel and cfg.outer_parallel and deps is not None:
        node = _outer_parallel(node, kernel, cfg, info, deps)
    wave = cfg.wavefront and not any(node.band_member_get_coincident(m) for m in range(n))
    if wave and cfg.parallel and cfg.parallel_reductions and not _serial(node, 0, kernel, cfg) \
            and reduction_clause(node, 0, kernel):
        wave = False  # the outer tile loop runs parallel as a reduction instead
    if wave:
        node = _wavefront(node, info).child(0)  # now at the (T1, ...) tile band
    point = node.child(0)
    if cfg.intra_tile_stride1:
        point = _stride1_last(point, kernel, info)
    if cfg.unroll_jam > 1 and point.band_n_member() >= 2:
        point, jammed = unroll_jam(point, cfg.unroll_jam)
        info.unroll_jams += jammed
    # bands created here must not be tiled again by the walk (permutability is unused later)
    node = point.band_set_permutable(0).parent()
    if wave:
        node = node.band_set_permutable(0).parent()
    else:
        info.tile_loops.add(str(node.band_get_partial_schedule()))
    return node


def _outer_parallel(node: isl.ScheduleNode, kernel: Kernel, cfg: SchedConfig, info: PostInfo,
                    deps: isl.UnionMap) -> isl.ScheduleNode:
    """The tile band with its first parallel member moved outermost when the first member
    carries dependences: the band is permutable, so any order is legal, and the parallel loop
    then spans the whole band in one region instead of one region per outer tile."""
    n = node.band_n_member()
    coinc = [bool(node.band_member_get_coincident(m)) and not _serial(node, m, kernel, cfg) for m in range(n)]
    if coinc[0] or not any(coinc):
        return node
    par = coinc.index(True)
    if not _parallel_outermost(node, par, deps):
        return node
    info.outer_parallel += 1
    return _permute(node, [par, *(m for m in range(n) if m != par)])


def _parallel_outermost(node: isl.ScheduleNode, m: int, deps: isl.UnionMap) -> bool:
    """Member `m` has distance 0 on every dependence between instances of this band that the
    schedule above it does not order. A member's coincidence flag only speaks for the
    dependences its outer members leave (a distance (1, 1) leaves the second member flagged),
    so it is not enough to make the member the outermost parallel loop."""
    domain = node.get_domain()
    active = deps.intersect_domain(domain).intersect_range(domain)
    prefix = node.get_prefix_schedule_union_map()
    active = active.intersect(prefix.apply_range(prefix.reverse()))
    member = isl.UnionMap.from_union_pw_aff(node.band_get_partial_schedule().get_at(m))
    return bool(active.is_subset(member.apply_range(member.reverse())))


def _wavefront(node: isl.ScheduleNode, info: PostInfo) -> isl.ScheduleNode:
    """Tile-level wavefront (T0 + T1, T1, ...): T1 becomes parallel inside T0 + T1.

    The band is permutable, so tile-level distances (d0, d1) are >= 0; pairs with equal
    T0 + T1 have d0 = d1 = 0, hence member 1 carries nothing once member 0 is fixed.
    The wavefront member gets its own (sequential) band so that coincidence of the
    rest is relative to it, which is what the OpenMP marking reads.
    """
    n = node.band_n_member()
    mupa = node.band_get_partial_schedule()
    lst = isl.UnionPwAffList.alloc(node.get_ctx(), n)
    lst = lst.add(mupa.get_at(0).add(mupa.get_at(1)))
    for m in range(1, n):
        lst = lst.add(mupa.get_at(m))
    new = isl.MultiUnionPwAff.from_union_pw_aff_list(mupa.get_space(), lst)
    node = node.delete().insert_partial_schedule(new).band_set_permutable(1)
    node = node.band_split(1)
    inner = node.child(0).band_set_permutable(1).band_member_set_coincident(0, 1)
    info.wavefronts += 1
    return inner.parent()


def _member_iters(node: isl.ScheduleNode, m: int, kernel: Kernel) -> dict[str, list[str]]:
    """Per statement, the iterators member ``m`` of a band depends on."""
    upa = node.band_get_partial_schedule().get_at(m)
    out: dict[str, list[str]] = {}
    pas: list[isl.PwAff] = []
    upa.foreach_pw_aff(pas.append)
    for pa in pas:
        name = pa.get_domain_space().get_tuple_name(isl.dim_type.set)
        st = kernel.stmt_by_name(name)
        out[name] = [it for d, it in enumerate(st.iters) if pa.involves_dims(isl.dim_type.in_, d, 1)]
    return out


def _stride_score(node: isl.ScheduleNode, m: int, kernel: Kernel) -> int:
    score = 0
    for name, iters in _member_iters(node, m, kernel).items():
        st = kernel.stmt_by_name(name)
        for it in iters:
            if any(lp.var == it and lp.hint == "vector" for lp in st.loops):
                score += 100
            for acc in [*st.reads, *st.writes]:
                uses = [bool(re.search(rf"\b{re.escape(it)}\b", s)) for s in acc.subscripts]
                if uses and uses[-1] and not any(uses[:-1]):
                    score += 1
                elif any(uses[:-1]):
                    score -= 1
    return score


def _stride1_last(node: isl.ScheduleNode, kernel: Kernel, info: PostInfo) -> isl.ScheduleNode:
    n = node.band_n_member()
    scores = [_stride_score(node, m, kernel) for m in range(n)]
    best = max(range(n), key=lambda m: (scores[m], m))
    if best == n - 1:
        return node
    order = [m for m in range(n) if m != best] + [best]
    info.reordered += 1
    return _permute(node, order)


def _permute(node: isl.ScheduleNode, order: list[int]) -> isl.ScheduleNode:
    """The band with its members in `order` (legal for a permutable band), coincidence kept."""
    mupa = node.band_get_partial_schedule()
    coinc = [bool(node.band_member_get_coincident(m)) for m in range(node.band_n_member())]
    new = multi(mupa.get_space(), [mupa.get_at(m) for m in order])
    return insert_band(node.delete(), new, [coinc[m] for m in order])


def _serial(node: isl.ScheduleNode, m: int, kernel: Kernel, cfg: SchedConfig) -> bool:
    for name, iters in _member_iters(node, m, kernel).items():
        st = kernel.stmt_by_name(name)
        forced = set(cfg.directives.get(name, {}).get("serial", []))
        if any(lp.var in iters and (lp.hint in ("serial", "reduce") or lp.var in forced)
               for lp in st.loops):
            return True
    return False


def _fix(s: isl.Set, sizes: dict[str, int]) -> isl.Set:
    for i in range(s.dim(isl.dim_type.param)):
        name = s.get_dim_name(isl.dim_type.param, i)
        if name in sizes:
            s = s.fix_val(isl.dim_type.param, i, isl.Val(sizes[name]))
    return s


def _box(s: isl.Set) -> float:
    vol = 1.0
    for d in range(s.dim(isl.dim_type.set)):
        lo, hi = s.dim_min_val(d), s.dim_max_val(d)
        if not (lo.is_int() and hi.is_int()):
            return float("inf")
        vol *= max(0, hi.to_python() - lo.to_python() + 1)
    return vol


def _work_per_region(node: isl.ScheduleNode, par: int, sizes: dict[str, int]) -> float:
    """Statement instances per execution of a parallel loop at member ``par`` (box estimate)."""
    outer = node.get_prefix_schedule_union_map()
    mupa = node.band_get_partial_schedule()
    for m in range(par):
        outer = outer.flat_range_product(isl.UnionMap.from_union_pw_aff(mupa.get_at(m)))
    sets: list[isl.Set] = []
    node.get_domain().foreach_set(sets.append)
    total, regions = 0.0, 1.0
    for st in sets:
        st = _fix(st, sizes)
        if st.is_empty():
            continue
        total += _box(st)
        image = isl.UnionSet.from_set(st).apply(outer)
        imgs: list[isl.Set] = []
        image.foreach_set(imgs.append)
        for im in imgs:
            regions = max(regions, _box(im) if im.dim(isl.dim_type.set) else 1.0)
    return total / regions


def _is_leaf_band(node: isl.ScheduleNode) -> bool:
    """Innermost: only a leaf below, or the unrolled band of unroll-and-jam over a leaf."""
    if node.n_children() != 1:
        return False
    child = node.child(0)
    return child.get_type() == LEAF or (is_unroll_band(child) and _is_leaf_band(child))


def _mark(node: isl.ScheduleNode, kernel: Kernel, cfg: SchedConfig, info: PostInfo,
          inside: bool, sizes: dict[str, int] | None) -> isl.ScheduleNode:
    depth = 0
    if node.get_type() == BAND and not is_unroll_band(node):
        node, inside, depth = _mark_band(node, kernel, cfg, info, inside, sizes)
    for i in range(node.n_children()):
        node = _mark(node.child(i), kernel, cfg, info, inside, sizes).parent()
    for _ in range(depth):  # back to the position we were called at
        node = node.parent()
    return node


def _mark_band(node: isl.ScheduleNode, kernel: Kernel, cfg: SchedConfig, info: PostInfo,
               inside: bool, sizes: dict[str, int] | None) -> tuple[isl.ScheduleNode, bool, int]:
    """Split the band where marks go; returns its lowest piece, new 'inside', depth added."""
    n = node.band_n_member()
    coinc = [bool(node.band_member_get_coincident(m)) and not _serial(node, m, kernel, cfg)
             for m in range(n)]
    par = coinc.index(True) if cfg.parallel and not inside and any(coinc) else None
    clause = ""
    if par is None and cfg.parallel and cfg.parallel_reductions and not inside:
        for m in range(n):
            if _serial(node, m, kernel, cfg):
                continue
            found = reduction_clause(node, m, kernel)
            if found:
                par, clause = m, found
                break
    if par is not None and node.get_schedule_depth() + par > 0 and sizes is not None \
            and _work_per_region(node, par, sizes) < cfg.min_parallel_work:
        # a parallel region per iteration of an enclosing sequential loop costs a
        # fork/join each time: only worth it when each region holds enough work
        par, clause = None, ""
    simd = n - 1 if cfg.simd and _is_leaf_band(node) and coinc[-1] else None
    over_tiles = str(node.band_get_partial_schedule()) in info.tile_loops
    dynamic = "schedule(dynamic)" if cfg.omp_schedule == "dynamic" and over_tiles else ""
    bounds = [0, *sorted({c for c in (par, simd) if c})]
    depth = 0
    for idx, b in enumerate(bounds):
        for name, at in (("omp_parallel", par), ("omp_simd", simd)):
            if at == b:
                # tag with the schedule depth: codegen applies the pragma only to the loop
                # of that depth (a degenerate marked loop must not pass it to a child loop)
                tag = f"{name}@{node.get_schedule_depth()}"
                if name == "omp_parallel" and clause:
                    info.reduction_marks.append(clause)
                clauses = " ".join(c for c in (clause, dynamic) if c)
                if name == "omp_parallel" and clauses:
                    tag = f"omp_parallel {clauses}@{node.get_schedule_depth()}"
                node = node.insert_mark(isl.Id(tag)).child(0)
                depth += 1
                if name == "omp_parallel":
                    info.parallel_marks += 1
                else:
                    info.simd_marks += 1
        if idx + 1 < len(bounds):
            node = node.band_split(bounds[idx + 1] - b).child(0)
            depth += 1
    return node, inside or par is not None, depth


def _sets(us: isl.UnionSet) -> list[isl.Set]:
    out: list[isl.Set] = []
    us.foreach_set(out.append)
    return out


def reduction_clause(node: isl.ScheduleNode, m: int, kernel: Kernel) -> str:
    """``reduction(+: ...)`` when band member ``m`` carries only sum-reduction conflicts.

    Conflicts are memory based (two instances touching one element, one of them writing),
    restricted to pairs in one execution of the loop (equal outer schedule) and in
    different iterations of it.  Every array with such a pair must be written and read
    under the loop only as the target of ``+=``/``-=`` updates whose increment does not
    read it; its sections go into the clause (0-d: the scalar; 1-d: ``X[0:n]``).  Empty
    string: not parallel this way.
    """
    dom = node.get_domain()
    names = [s.get_tuple_name() for s in _sets(dom)]
    stmts = [kernel.stmt_by_name(nm) for nm in names]
    mupa = node.band_get_partial_schedule()
    outer = node.get_prefix_schedule_union_map()
    for i in range(m):
        outer = outer.flat_range_product(isl.UnionMap.from_union_pw_aff(mupa.get_at(i)))
    full = outer.flat_range_product(isl.UnionMap.from_union_pw_aff(mupa.get_at(m)))
    ctx = kernel.context()
    carried = outer.apply_range(outer.reverse()).subtract(full.apply_range(full.reverse()))
    carried = carried.intersect_domain(dom).intersect_range(dom).intersect_params(ctx)
    if carried.is_empty():
        return ""  # coincident after all: the plain mark handles it
    clauses: list[str] = []
    arrays = sorted({acc.array for st in stmts for acc in [*st.reads, *st.writes]})
    for arr in arrays:
        writes = isl.UnionMap.empty(ctx.get_space())
        touches = isl.UnionMap.empty(ctx.get_space())
        for st in stmts:
            for acc in st.writes:
                if acc.array == arr:
                    writes = writes.union(kernel._access_map(st, acc))
            for acc in [*st.reads, *st.writes]:
                if acc.array == arr:
                    touches = touches.union(kernel._access_map(st, acc))
        if writes.is_empty():
            continue
        conflict = writes.apply_range(touches.reverse())
        if conflict.union(conflict.reverse()).intersect(carried).is_empty():
            continue
        clause = _sum_target(kernel, stmts, arr)
        if clause is None:
            return ""
        clauses.append(clause)
    return f"reduction(+: {', '.join(clauses)})" if clauses else ""


def _sum_target(kernel: Kernel, stmts: list, arr: str) -> str | None:  # type: ignore[type-arg]
    """The clause item for ``arr`` when every statement touching it is a sum update of it."""
    for st in stmts:
        touching = [acc for acc in [*st.reads, *st.writes] if acc.array == arr]
        if not touching:
            continue
        red = parse_reduction(st)
        if red is None or st.writes[0].array != arr:
            return None
        if re.search(rf"\b{re.escape(arr)}\b", red.increment):
            return None  # the increment reads the array: not a pure sum
    dims = kernel.arrays[arr].dims
    if not dims:
        return arr
    if len(dims) == 1:
        return f"{arr}[0:{dims[0]}]"
    return None  # multi-dimensional sections of array parameters: not emitted
