"""isl schedule trees: from our per-dimension result, and from isl's own scheduler.

Both schedulers end here as ``isl.Schedule`` trees so that tiling, loop-order and
OpenMP post-passes and code generation are one shared path (a fair baseline).
"""

from __future__ import annotations

import islpy as isl

from .deps import Dependences
from .dsl import Kernel
from .scheduler import Level, ScheduleResult, affine_text


def _domain(kernel: Kernel, names: list[str]) -> isl.UnionSet:
    dom = isl.UnionSet.empty(kernel.context().get_space())
    for n in names:
        dom = dom.union(isl.UnionSet.from_set(kernel.domain_of(kernel.stmt_by_name(n))))
    return dom.intersect_params(kernel.context())


def _degenerate(lv: Level, names: list[str]) -> bool:
    return lv.kind == "scalar" or all(not any(lv.coef.get(n, [])) for n in names)


def to_tree(res: ScheduleResult) -> isl.Schedule:
    """Sequence nodes for scalar levels, band nodes (permutable, coincident) for bands."""
    names = [st.name for st in res.kernel.statements]
    return _build(res, names, 0)


def _build(res: ScheduleResult, names: list[str], idx: int) -> isl.Schedule:
    k, levels = res.kernel, res.levels
    if idx >= len(levels):
        return isl.Schedule.from_domain(_domain(k, names))
    lv = levels[idx]
    if _degenerate(lv, names):
        values = sorted({lv.const.get(n, 0) for n in names})
        parts = [_build(res, [n for n in names if lv.const.get(n, 0) == v], idx + 1) for v in values]
        out = parts[0]
        for p in parts[1:]:
            out = out.sequence(p)
        return out
    end = idx
    while end < len(levels) and levels[end].kind == "band" and levels[end].band == lv.band \
            and not _degenerate(levels[end], names):
        end += 1
    child = _build(res, names, end)
    rows = []
    for n in names:
        st = k.stmt_by_name(n)
        exprs = ", ".join(affine_text(st.iters, levels[i].coef.get(n, []), levels[i].const.get(n, 0))
                          for i in range(idx, end))
        rows.append(f"{n}[{', '.join(st.iters)}] -> [{exprs}]")
    umap = isl.UnionMap(f"{k.param_decl} -> {{ {'; '.join(rows)} }}")
    mupa = isl.MultiUnionPwAff.from_union_map(umap)
    sched = child.insert_partial_schedule(mupa)
    node = sched.get_root().child(0)
    node = node.band_set_permutable(1)
    group = set(names)
    for m, i in enumerate(range(idx, end)):
        carried = any(a in group and b in group for a, b in levels[i].carried)
        node = node.band_member_set_coincident(m, 0 if carried else 1)
    return node.get_schedule()


def isl_schedule(kernel: Kernel, deps: Dependences) -> isl.Schedule:
    """isl's own scheduler: validity = proximity = all deps, coincidence = flow + false."""
    sc = isl.ScheduleConstraints.on_domain(kernel.domain())
    sc = sc.set_context(kernel.context())
    sc = sc.set_validity(deps.all).set_proximity(deps.all).set_coincidence(deps.all)
    return sc.compute_schedule()


def original_tree(kernel: Kernel) -> isl.Schedule:
    """The original order as a flat schedule tree (no bands are permutable)."""
    sched = isl.Schedule.from_domain(kernel.domain())
    mupa = isl.MultiUnionPwAff.from_union_map(kernel.original_schedule())
    return sched.insert_partial_schedule(mupa)
