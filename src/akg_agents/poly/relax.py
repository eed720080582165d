"""Reduction relaxation: an update chain `W op= e` may run its reduction loops in any order.

Memory-based dependences order the updates of one element of W in the original lexicographic
order of the reduction loops. With several reduction loops (a convolution's ci, r, s) the chain
wraps around (r = 2 -> r' = 0 with ci' = ci + 1), so a permutable band can only keep them by
skewing (2*ci + r); a single loop pinned by its chain also cannot move. Summation is treated as
associative and commutative instead (the result is rounded differently, like `simd_reduction`):

* the statement's self-dependences (all on W: W's array is read nowhere else in the statement)
  are dropped;
* every other statement touching W's array is ordered against *every* update of the same
  element, before or after as in the original program (memory-based, no kills), so an
  initialisation still precedes all updates and a consumer still follows all of them.

Only statements whose reduction loops (iterators absent from W's subscripts) are all hinted
`reduce` are relaxed: the post-pass never marks such loops parallel or simd (post._serial), so
two updates of one element never run concurrently. Scheduling and the validity check both use
the relaxed dependences.
"""

from __future__ import annotations

import re

import islpy as isl

from .deps import Dependences, _maps
from .dsl import Kernel, Statement
from .reduction import parse_reduction


def reduction_chains(kernel: Kernel) -> list[Statement]:
    out = []
    for st in kernel.statements:
        if parse_reduction(st) is None:
            continue
        w = st.writes[0]
        if any(acc.array == w.array and acc.subscripts != w.subscripts for acc in st.reads):
            continue
        used = {it for s in w.subscripts for it in re.findall(r"[A-Za-z_]\w*", s)}
        reducing = [lp for lp in st.loops if lp.var not in used]
        if reducing and all(lp.hint == "reduce" for lp in reducing):
            out.append(st)
    return out


def _without_self(um: isl.UnionMap, names: set[str]) -> isl.UnionMap:
    out = isl.UnionMap.empty(um.get_space())
    for m in _maps(um):
        src, dst = m.get_tuple_name(isl.dim_type.in_), m.get_tuple_name(isl.dim_type.out)
        if not (src == dst and src in names):
            out = out.union(isl.UnionMap.from_map(m))
    return out


def _accesses_to(kernel: Kernel, st: Statement, array: str) -> isl.UnionMap:
    um = isl.UnionMap.empty(kernel.context().get_space())
    for acc in [*st.reads, *st.writes]:
        if acc.array == array:
            um = um.union(kernel._access_map(st, acc))
    return um


def relax_reductions(kernel: Kernel, deps: Dependences) -> Dependences:
    """`deps` with every relaxable update chain's internal order dropped (see the module doc)."""
    chains = reduction_chains(kernel)
    if not chains:
        return deps
    names = {st.name for st in chains}
    sched = kernel.original_schedule()
    before = sched.lex_lt_union_map(sched)  # pairs (a, b) with a before b in the original order
    extra = isl.UnionMap.empty(kernel.context().get_space())
    for st in chains:
        w = st.writes[0]
        updates = kernel._access_map(st, w)
        for other in kernel.statements:
            if other.name == st.name:
                continue
            touching = _accesses_to(kernel, other, w.array)
            if touching.is_empty():
                continue
            same = touching.apply_range(updates.reverse())  # other[i] -> st[j]: one element
            extra = extra.union(same.intersect(before)).union(same.reverse().intersect(before))
    ctx = kernel.context()
    return Dependences(_without_self(deps.flow, names), _without_self(deps.anti, names),
                       _without_self(deps.output, names).union(extra).intersect_params(ctx).coalesce(),
                       deps.rar)  # RAR as it is (computed on first use)
