"""Privatisation of temporaries: array expansion before scheduling, contraction after.

A temporary (an array declared ``output=False``: PolyBench's scalars ``temp2``, ``nrm``, ``w``,
deriche's ``ym1``..., small arrays such as doitgen's ``sum[p]``) that is rewritten in every
iteration of an outer loop makes anti (WAR) and output (WAW) dependences carried by that loop,
so the scheduler cannot make it parallel although no value flows between its iterations.

**Expansion** (``expand``, before scheduling).  Per array, the statements touching it are
grouped into *webs*: connected components of the array's exact flow dependences (isl's
last-writer analysis on the original order).  A web with a read that no write reaches (an
upward-exposed read: it sees the value from before, e.g. durbin's ``alpha`` on entry to the k
loop) is left alone.  Otherwise the web is renamed ``X_pK`` and expanded over one loop: the
outermost of its common loops that carries some of its anti/output dependences and that
privatisation *frees*: the loop carries no flow dependence of any array (so none of the web's:
every read gets its value from the same iteration), no false dependence of an output array,
and, once the webs expanded over it are renamed, no false dependence of a temporary either
(fixpoint); and none of the web's flow dependences crosses the loop's executions with another
value of its iterator (a later outer iteration reading the last value of an earlier one).
``temp2`` becomes ``temp2_p0[j]`` in symm (``i`` carries C's flow dependences), doitgen's
``sum[p]`` ``sum_p0[r][p]``.  Inner loops keep the web's false dependences, so its statements
stay one strongly connected component that the scheduler keeps fused inside the freed loop.
Renaming a web is legal because each read's last writer is in its web and the array is not an
output; expanding over a loop whose iterator has one value at both ends of every flow
dependence keeps each read's last writer (the writes to the new cell are a subset of those to
the old one, and include that writer).  The expanded program has the same flow dependences
and fewer false ones; the scheduler and the exact validity check run on it.

**Contraction** (``contract``, after the post-passes, on the final schedule tree).  Per
expanded web, the deepest band member P whose subtree holds every instance of the web and whose
iterations hold every flow dependence of the web (equal schedule prefix through P) is found.
The web's storage can go back to its original shape, declared as a local *inside the body of P*
(one fresh copy per iteration of P, hence private to each OpenMP thread and SIMD lane), when

* no write of the web to the same contracted cell lies, in the final schedule and in the same
  iteration of P, strictly between a write and a read it feeds (exact isl check), and
* no loop marked ``omp parallel`` / ``omp simd`` below P encloses a statement of the web (it
  would share the copy between threads or lanes).

Without an enclosing P (flow dependences crossing every loop) the same two checks with the whole
schedule as one region allow a contraction to one shared variable of the original shape.  When
the checks fail the expanded array is kept (correct, more memory); ``Privatized.report`` says
which of the three forms each web got.  Locals larger than ``LOCAL_MAX`` elements at the
kernel's largest size stay expanded (thread stacks).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field

import islpy as isl

from .dsl import Array, Kernel, Statement, _subscripts

LOCAL_MAX = 8192  # elements of a per-iteration local array (64 KiB of doubles)
MARK = "priv:"  # schedule-tree mark: declare these locals in the body of the enclosing loop


@dataclass
class Web:
    array: str  # the original array
    name: str  # the renamed (expanded) array
    stmts: list[str]  # statements touching it
    loops: list[tuple[str, str]]  # (iterator, lower bound) of the expansion dims, outermost first
    extents: list[str]  # their extents (affine in the parameters)
    orig_dims: list[str]


@dataclass
class Privatized:
    """The expanded kernel (scheduled) and what contraction needs."""

    kernel: Kernel
    original: Kernel
    webs: list[Web] = field(default_factory=list)
    report: list[str] = field(default_factory=list)
    kept: list[Web] = field(default_factory=list)  # webs contract() left expanded


def _maps(um: isl.UnionMap) -> list[isl.Map]:
    out: list[isl.Map] = []
    um.foreach_map(out.append)
    return out


def _array_access(kernel: Kernel, arr: str, pick) -> isl.UnionMap:  # type: ignore[no-untyped-def]
    um = isl.UnionMap.empty(kernel.context().get_space())
    for st in kernel.statements:
        for acc in pick(st):
            if acc.array == arr:
                um = um.union(kernel._access_map(st, acc))
    return um


def _common_loops(stmts: list[Statement]) -> int:
    """Number of outer loops (the same loop of the program, not just the same name) all share."""
    n = min(st.depth for st in stmts)
    for d in range(n):
        first = (stmts[0].position[d], stmts[0].loops[d])
        if any((st.position[d], st.loops[d]) != first for st in stmts[1:]):
            return d
    return n


def _pair_differs(rel: isl.UnionMap, kernel: Kernel, d: int) -> bool:
    """Some pair of ``rel`` has different values of the statements' d-th iterator."""
    for m in _maps(rel):
        src = kernel.stmt_by_name(m.get_tuple_name(isl.dim_type.in_))
        dst = kernel.stmt_by_name(m.get_tuple_name(isl.dim_type.out))
        ins = ", ".join(f"a{i}" for i in range(src.depth))
        outs = ", ".join(f"b{i}" for i in range(dst.depth))
        eq = isl.Map(f"{kernel.param_decl} -> {{ {src.name}[{ins}] -> {dst.name}[{outs}] : a{d} = b{d} }}")
        if not m.subtract(eq).intersect_params(kernel.context()).is_empty():
            return True
    return False


def _aff_text(pa: isl.PwAff, params: list[str]) -> str | None:
    """A single-piece integer affine function of the parameters as C/Python text."""
    pieces = pa.get_pieces()
    if len(pieces) != 1:
        return None
    aff = pieces[0][1]
    if aff.dim(isl.dim_type.div) or aff.get_denominator_val().to_python() != 1:
        return None
    terms = []
    for i in range(aff.dim(isl.dim_type.param)):
        c = aff.get_coefficient_val(isl.dim_type.param, i).to_python()
        name = str(aff.get_dim_name(isl.dim_type.param, i))
        if c and name not in params:
            return None
        if c:
            terms.append(name if c == 1 else f"{c} * {name}")
    const = aff.get_constant_val().to_python()
    if const or not terms:
        terms.append(str(const))
    return " + ".join(terms).replace("+ -", "- ")


def _bounds(kernel: Kernel, stmts: list[Statement], d: int) -> tuple[str, str] | None:
    """(lower bound, extent) of loop ``d`` over the statements' domains, affine in the params."""
    lo: isl.PwAff | None = None
    hi: isl.PwAff | None = None
    for st in stmts:
        dom = kernel.domain_of(st).intersect_params(kernel.context())
        mn, mx = dom.dim_min(d), dom.dim_max(d)
        lo = mn if lo is None else lo.min(mn)
        hi = mx if hi is None else hi.max(mx)
    assert lo is not None and hi is not None
    ctx = kernel.context()
    lo, hi = lo.gist_params(ctx).coalesce(), hi.gist_params(ctx).coalesce()
    lo_t = _aff_text(lo, kernel.params)
    ext = _aff_text(hi.sub(lo).add_constant_val(isl.Val(1)).gist_params(ctx).coalesce(), kernel.params)
    if lo_t is None or ext is None:
        return None
    return lo_t, ext


def _rewrite(body: str, old: str, new: str, lead: list[str], drop: int = 0) -> str:
    """``old[s..]`` -> ``new[lead..][s..]`` in a statement body (the first ``drop`` subscripts dropped)."""
    out, pos = [], 0
    for m in re.finditer(rf"\b{re.escape(old)}\b", body):
        if m.start() < pos:
            continue
        subs, end = _subscripts(body, m.end())
        out.append(body[pos:m.start()])
        out.append(new + "".join(f"[{s}]" for s in [*lead, *subs[drop:]]))
        pos = end
    out.append(body[pos:])
    return "".join(out)


def _fresh(kernel: Kernel, base: str) -> str:
    taken = set(kernel.arrays) | set(kernel.consts) | set(kernel.params)
    k = 0
    while f"{base}_p{k}" in taken:
        k += 1
    return f"{base}_p{k}"


def _set_body(kernel: Kernel, st: Statement, body: str) -> None:
    st.body = body
    st.reads, st.writes = kernel._parse_accesses(body)


def _array_deps(kernel: Kernel, arr: str, sched: isl.UnionMap) -> tuple[isl.UnionMap, isl.UnionMap, set[str]]:
    """Flow and false (anti + output) dependences on one array, and the statements with a read
    that no write reaches (upward exposed)."""
    ctx = kernel.context()
    reads = _array_access(kernel, arr, lambda st: st.reads)
    writes = _array_access(kernel, arr, lambda st: st.writes)
    if writes.is_empty():
        empty = isl.UnionMap.empty(ctx.get_space())
        return empty, empty, set()
    info = (isl.UnionAccessInfo.from_sink(reads).set_must_source(writes)
            .set_schedule_map(sched).compute_flow())
    flow = info.get_must_dependence().intersect_params(ctx)
    exposed = {m.get_tuple_name() for m in _sets(info.get_must_no_source().domain().intersect_params(ctx))
               if not m.is_empty()}
    out_dep = (isl.UnionAccessInfo.from_sink(writes).set_must_source(writes)
               .set_schedule_map(sched).compute_flow().get_must_dependence())
    anti = (isl.UnionAccessInfo.from_sink(writes).set_may_source(reads).set_kill(writes)
            .set_schedule_map(sched).compute_flow().get_may_dependence())
    return flow, out_dep.union(anti).intersect_params(ctx), exposed


LoopKey = tuple[int, ...]  # textual positions of a loop and its enclosing loops (Statement.position)


def _loop_carries(rel: isl.UnionMap, kernel: Kernel, key: LoopKey) -> bool:
    """Some pair of ``rel`` lies in one execution of loop ``key`` but in different iterations."""
    d = len(key) - 1
    for m in _maps(rel):
        src = kernel.stmt_by_name(m.get_tuple_name(isl.dim_type.in_))
        dst = kernel.stmt_by_name(m.get_tuple_name(isl.dim_type.out))
        if src.depth <= d or dst.depth <= d or tuple(src.position[:d + 1]) != key \
                or tuple(dst.position[:d + 1]) != key:
            continue
        ins = ", ".join(f"a{i}" for i in range(src.depth))
        outs = ", ".join(f"b{i}" for i in range(dst.depth))
        cond = " and ".join([*(f"a{i} = b{i}" for i in range(d)), f"(a{d} < b{d} or a{d} > b{d})"])
        sel = isl.Map(f"{kernel.param_decl} -> {{ {src.name}[{ins}] -> {dst.name}[{outs}] : {cond} }}")
        if not m.intersect(sel).intersect_params(kernel.context()).is_empty():
            return True
    return False


def expand(kernel: Kernel, skip: frozenset[tuple[str, tuple[str, ...]]] = frozenset()) -> Privatized:
    """The kernel with its temporaries' webs renamed and expanded (see the module doc).

    A web is expanded over one loop: the outermost of its common loops that carries some of its
    false dependences and that privatisation frees, i.e. a loop that carries no flow dependence
    (of any array), no false dependence of an output array and, once the webs expanded over it
    are renamed, no false dependence of a temporary either (checked to a fixpoint).  Inner loops
    keep the web's false dependences, so its statements stay one strongly connected component
    and the scheduler keeps them fused inside the freed loop (contraction needs that).
    ``skip``: webs ``(array, statements)`` left alone (``privatize: local`` drops the webs a
    first schedule could not contract, then schedules again).
    """
    out = copy.deepcopy(kernel)
    out.name = f"{kernel.name}+priv"
    res = Privatized(out, kernel)
    sched = kernel.original_schedule()
    deps = {a.name: _array_deps(kernel, a.name, sched) for a in kernel.arrays.values()}
    loops: dict[LoopKey, Statement] = {}
    for st in kernel.statements:
        for d in range(st.depth):
            loops.setdefault(tuple(st.position[:d + 1]), st)
    free = [key for key, st in loops.items()
            if st.loops[len(key) - 1].hint not in ("serial", "reduce")
            and not any(_loop_carries(flow, kernel, key) for flow, _f, _e in deps.values())
            and not any(_loop_carries(deps[a.name][1], kernel, key) for a in kernel.arrays.values() if a.output)]
    # the webs of every temporary, and the loop each would be expanded over
    webs: list[tuple[str, list[str]]] = []
    where: dict[int, LoopKey] = {}
    for arr in [a for a in kernel.arrays.values() if not a.output]:
        flow, false, exposed = deps[arr.name]
        touching = [st.name for st in kernel.statements
                    if any(a.array == arr.name for a in [*st.reads, *st.writes])]
        if false.is_empty():
            continue
        for names in _webs(touching, flow):
            webs.append((arr.name, names))
            stmts = [kernel.stmt_by_name(n) for n in names]
            if (arr.name, tuple(names)) in skip:
                res.report.append(f"{arr.name} in {','.join(names)}: kept (not contractible)")
                continue
            if exposed & set(names):
                res.report.append(f"{arr.name} in {','.join(names)}: kept (a read sees the value from before)")
                continue
            sel = _stmt_set(kernel, names)
            w_false = false.intersect_domain(sel).intersect_range(sel)
            w_flow = flow.intersect_domain(sel).intersect_range(sel)
            for d in range(_common_loops(stmts)):
                key = tuple(stmts[0].position[:d + 1])
                # a free loop carries no flow dependence inside one execution, but one may cross
                # its executions (a later iteration of an outer loop reading an earlier value):
                # each read's writer must have the read's value of the expanded iterator
                if key in free and _loop_carries(w_false, kernel, key) and not _pair_differs(w_flow, kernel, d) \
                        and _bounds(kernel, stmts, d):
                    where[len(webs) - 1] = key
                    break
    # a loop is freed only if no false dependence of a temporary stays carried by it
    changed = True
    while changed:
        changed = False
        for key in sorted(set(where.values())):
            stays = False
            for arr in [a for a in kernel.arrays.values() if not a.output]:
                group = {n: ("renamed", i) if i in where else ("kept", -1)
                         for i, (a, names) in enumerate(webs) if a == arr.name for n in names}
                for m in _maps(deps[arr.name][1]):
                    s, t = m.get_tuple_name(isl.dim_type.in_), m.get_tuple_name(isl.dim_type.out)
                    if group.get(s) != group.get(t):
                        continue  # different names after renaming
                    g = group.get(s)
                    if g is not None and g[0] == "renamed" and where[g[1]] == key:
                        continue  # expanded over this loop
                    if _loop_carries(isl.UnionMap.from_map(m), kernel, key):
                        stays = True
                        break
                if stays:
                    break
            if stays:
                for i in [i for i, k in where.items() if k == key]:
                    del where[i]
                changed = True
                break
    for i, (arr_name, names) in enumerate(webs):
        if i not in where:
            continue
        arr = kernel.arrays[arr_name]
        stmts = [kernel.stmt_by_name(n) for n in names]
        d = len(where[i]) - 1
        bnd = _bounds(kernel, stmts, d)
        assert bnd is not None
        var = stmts[0].loops[d].var
        new = _fresh(out, arr.name)
        out.arrays[new] = Array(new, [bnd[1], *arr.dims], output=False)
        lead = [var if bnd[0] == "0" else f"{var} - ({bnd[0]})"]
        for n in names:
            st = out.stmt_by_name(n)
            _set_body(out, st, _rewrite(st.body, arr.name, new, lead))
        res.webs.append(Web(arr.name, new, names, [(var, bnd[0])], [bnd[1]], list(arr.dims)))
        res.report.append(f"{arr.name} in {','.join(names)}: expanded to {new}"
                          f"[{bnd[1]}]{''.join(f'[{x}]' for x in arr.dims)} over loop {var}")
    return res


def _webs(touching: list[str], flow: isl.UnionMap) -> list[list[str]]:
    """Connected components of the statements under the flow dependences (union-find)."""
    parent = {s: s for s in touching}

    def find(s: str) -> str:
        while parent[s] != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for m in _maps(flow):
        a, b = find(m.get_tuple_name(isl.dim_type.in_)), find(m.get_tuple_name(isl.dim_type.out))
        parent[a] = b
    groups: dict[str, list[str]] = {}
    for s in touching:
        groups.setdefault(find(s), []).append(s)
    return list(groups.values())


def _sets(us: isl.UnionSet) -> list[isl.Set]:
    out: list[isl.Set] = []
    us.foreach_set(out.append)
    return out


# ---- contraction ------------------------------------------------------------------------------

BAND = isl.schedule_node_type.band
MARK_NODE = isl.schedule_node_type.mark


def _stmt_set(kernel: Kernel, names: list[str]) -> isl.UnionSet:
    us = isl.UnionSet.empty(kernel.context().get_space())
    for n in names:
        us = us.union(isl.UnionSet.from_set(kernel.domain_of(kernel.stmt_by_name(n))))
    return us.intersect_params(kernel.context())


def _prefix(node: isl.ScheduleNode, m: int) -> isl.UnionMap:
    """Schedule prefix of band member ``m`` (itself included)."""
    pre = node.get_prefix_schedule_union_map()
    mupa = node.band_get_partial_schedule()
    for i in range(m + 1):
        pre = pre.flat_range_product(isl.UnionMap.from_union_pw_aff(mupa.get_at(i)))
    return pre


def _same(pre: isl.UnionMap) -> isl.UnionMap:
    return pre.apply_range(pre.reverse())


def _walk_bands(node: isl.ScheduleNode, path: list[int], out: list[tuple[list[int], isl.ScheduleNode]]) -> None:
    if node.get_type() == BAND:
        out.append((path, node))
    for i in range(node.n_children()):
        _walk_bands(node.child(i), [*path, i], out)


def _mark_names(node: isl.ScheduleNode) -> list[str]:
    out = [node.mark_get_id().get_name()] if node.get_type() == MARK_NODE else []
    for i in range(node.n_children()):
        out += _mark_names(node.child(i))
    return out


def _marked_loops(root: isl.ScheduleNode) -> list[tuple[isl.ScheduleNode, int]]:
    """(band node, member) of every loop the post-pass marked omp_parallel / omp_simd."""
    bands: list[tuple[list[int], isl.ScheduleNode]] = []
    _walk_bands(root, [], bands)
    out = []
    for _path, node in bands:
        if node.has_parent() and node.parent().get_type() == MARK_NODE:
            name = node.parent().mark_get_id().get_name()
            if name.startswith("omp_"):
                out.append((node, 0))  # post marks sit on the first member of a band
    return out


def contract(priv: Privatized, sched: isl.Schedule) -> tuple[isl.Schedule, Kernel, dict[str, str], list[str]]:
    """Contract the expanded webs the final schedule allows (see the module doc).

    Returns the schedule with ``priv:`` marks, the kernel to emit (statement bodies with the
    contracted accesses), the C declarations of the per-iteration locals and a report line per web.
    """
    emit = copy.deepcopy(priv.kernel)
    emit.name = priv.original.name
    exp = priv.kernel
    ctx = exp.context()
    smap = sched.get_map().intersect_params(ctx)
    before = smap.lex_lt_union_map(smap)
    root = sched.get_root()
    bands: list[tuple[list[int], isl.ScheduleNode]] = []
    _walk_bands(root, [], bands)
    marked = _marked_loops(root)
    clauses = [name for name in _mark_names(root) if "reduction(" in name]
    decls: dict[str, str] = {}
    marks: dict[tuple[tuple[int, ...], int], list[str]] = {}
    report: list[str] = []
    local: list[str] = []  # removed from the arrays once every body is rewritten
    largest = max(exp.sizes, key=lambda s: sum(exp.sizes[s].values()))
    for web in priv.webs:
        inst = _stmt_set(exp, web.stmts)
        reads = _array_access(exp, web.name, lambda st: st.reads)
        writes = _array_access(exp, web.name, lambda st: st.writes)
        flow = (isl.UnionAccessInfo.from_sink(reads).set_must_source(writes)
                .set_schedule_map(exp.original_schedule()).compute_flow().get_must_dependence())
        flow = flow.intersect_params(ctx)
        # the deepest band member holding the web whose iterations hold its flow dependences
        site: tuple[list[int], isl.ScheduleNode, int] | None = None
        best = -1
        for path, node in bands:
            if not inst.is_subset(node.get_domain().intersect_params(ctx)):
                continue
            for m in range(node.band_n_member()):
                dep = node.get_schedule_depth() + m
                if dep > best and flow.is_subset(_same(_prefix(node, m))):
                    site, best = (path, node, m), dep
        region = _same(_prefix(site[1], site[2])) if site else None
        # contracted cells: the original subscripts (the expansion dims dropped)
        n_lead = len(web.loops)
        cw = _cells(exp, web, writes, n_lead)
        cr = _cells(exp, web, reads, n_lead)
        w2r = cw.apply_range(cr.reverse()).intersect(before)
        if region is not None:
            w2r = w2r.intersect(region)
        between = before.intersect_domain(writes.domain()).apply_range(w2r)
        interferes = not flow.intersect(between).is_empty()
        # a parallel/simd loop below the site shares the copy between its iterations: allowed
        # only when no two of its iterations touch one contracted cell, one of them writing
        touch = cw.union(cr)
        conflict = cw.apply_range(touch.reverse())
        conflict = conflict.union(conflict.reverse())
        races = [(n, m) for n, m in marked
                 if not n.get_domain().intersect(inst).is_empty()
                 and (site is None or n.get_schedule_depth() + m > best)
                 and not conflict.intersect(_carried(n, m)).is_empty()]
        shape = [int(eval(d, {"__builtins__": {}}, dict(exp.sizes[largest]))) for d in web.orig_dims]
        size = 1
        for s in shape:
            size *= s
        # an omp reduction clause (parallel_reductions) names the array at its loop: keep it there
        in_clause = any(re.search(rf"\b{re.escape(web.name)}\b", c) for c in clauses)
        if interferes or races or in_clause or (site is not None and size > LOCAL_MAX):
            why = ("interference" if interferes else "a parallel/simd loop inside" if races
                   else "in a reduction clause" if in_clause else "too large")
            report.append(f"{web.name}: kept expanded ({why})")
            priv.kept.append(web)
            continue
        emit.arrays[web.name].dims = list(web.orig_dims)
        for n in web.stmts:
            st = emit.stmt_by_name(n)
            _set_body(emit, st, _rewrite(st.body, web.name, web.name, [], drop=n_lead))
        if site is None:
            report.append(f"{web.name}: contracted to one variable")
            continue
        local.append(web.name)
        decls[web.name] = f"double {web.name}{''.join(f'[{d}]' for d in web.orig_dims)};"
        marks.setdefault((tuple(site[0]), site[2]), []).append(web.name)
        report.append(f"{web.name}: private, a local in the body of loop _c{best}")
    for name in local:
        del emit.arrays[name]
    # deepest sites first: a split or a mark changes only the paths below it
    for (site_path, m), names in sorted(marks.items(), key=lambda kv: (len(kv[0][0]), kv[0][1]),
                                        reverse=True):
        node = root
        for i in site_path:
            node = node.child(i)
        if m + 1 < node.band_n_member():
            node = node.band_split(m + 1)
        node = node.child(0).insert_mark(isl.Id(MARK + ",".join(names)))
        root = node.root()
    return root.get_schedule(), emit, decls, report


def _carried(node: isl.ScheduleNode, m: int) -> isl.UnionMap:
    """Pairs of instances in one execution of band member ``m``'s loop, different iterations."""
    outer = node.get_prefix_schedule_union_map()
    mupa = node.band_get_partial_schedule()
    for i in range(m):
        outer = outer.flat_range_product(isl.UnionMap.from_union_pw_aff(mupa.get_at(i)))
    return _same(outer).subtract(_same(_prefix(node, m)))


def _cells(kernel: Kernel, web: Web, acc: isl.UnionMap, n_lead: int) -> isl.UnionMap:
    """The accesses with the expansion dims projected out (the original array's cells)."""
    out = isl.UnionMap.empty(acc.get_space())
    for m in _maps(acc):
        out = out.union(isl.UnionMap.from_map(m.project_out(isl.dim_type.out, 0, n_lead)))
    return out


__all__ = ["Privatized", "Web", "contract", "expand"]
