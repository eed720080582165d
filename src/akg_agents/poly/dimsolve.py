"""Build and solve the ILP for one schedule dimension (objectives + constraints).

Variables are created in priority order so that lexmin == lexicographic objective
minimisation: objective variables (per configuration), then per statement the
iterator coefficients in *reverse* loop order (so ties keep original outer loops
outer, as Pluto does), then the constant shifts.

Signed coefficients (``reversal``, and the concurrent-start row of ``diamond``), as in
Pluto+: each coefficient is ``p - n`` with ``p, n`` in ``[0, coef_bound]``; every ``n`` comes
right after the objective variables, so among the hyperplanes that are equally good for the
objectives the lexmin takes the one with the fewest reversals (an un-reversed loop on ties),
and ``p`` and ``n`` are never both positive.  Costs (``stride1_inner``, ``large_outer``,
``min_coef``) count ``|c| = p + n``.  Linear independence: Pluto's orthogonal-subspace rows,
in one orientation or (one 0/1 variable per statement, big-M) the opposite one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm

import islpy as isl

from .config import SchedConfig
from .dsl import Kernel, Statement
from .farkas import Affine, add_nonneg, farkas_rows
from .ilp import LinExpr, System, solve


@dataclass
class RemDep:
    """A dependence restricted to the pairs not yet strictly ordered by outer dims."""

    kind: str  # flow / anti / output / input (input = RAR, proximity only)
    src: str
    dst: str
    rel: isl.Map

    @property
    def validity(self) -> bool:
        return self.kind != "input"


@dataclass
class DimSolution:
    coef: dict[str, list[int]]
    const: dict[str, int]
    objective: dict[str, int] = field(default_factory=dict)


@dataclass
class DimProblem:
    kernel: Kernel
    cfg: SchedConfig
    objectives: list[str]
    band_deps: list[RemDep]
    need_rank: dict[str, list[list[int]]]  # stmt -> current hyperplanes (only if rank < depth)
    remaining_rank: dict[str, int]
    costs: dict[str, dict[str, list[int]]]  # objective -> stmt -> per-iterator cost
    signed: bool = False  # coefficients in [-coef_bound, coef_bound] (loop reversal)
    # concurrent start (diamond): stmt -> (face f, sum of the band's other rows h): the row
    # must be lam * f - sum(h) with an integer lam >= 1, so f = (row + sum(h)) / lam lies
    # strictly inside the cone of the band's rows
    cone: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)
    fixed: dict[str, list[int]] = field(default_factory=dict)  # stmt -> its row, given


def solve_dim(p: DimProblem) -> DimSolution | None:
    # budgeted isl only for reversal everywhere (fdtd-2d hung); with "descending" or for the
    # diamond row isl was fast and the HiGHS fallback would be slower (deriche 18 s vs 3 s)
    sys = System(lazy=not p.kernel.params, guard=p.signed and p.cfg.reversal is True and not p.cone)
    obj_vars = _objective_vars(sys, p)
    sys.n_objective = sys.n
    # signed: each statement's orientation of its independence rows (0: Pluto's), right
    # after the objectives (isl's lexmin took minutes with them after the coefficients)
    signed = {st.name: _signed(p, st) for st in p.kernel.statements}
    orient = {name: sys.var(f"{name}.orient", 0, 1) for name in p.need_rank if any(signed[name])}
    cvars, avars, kvars = _statement_vars(sys, p, signed)
    _dependence_constraints(sys, p, obj_vars, cvars, kvars)
    _cost_objectives(sys, p, obj_vars, avars)
    for name, (face, others) in p.cone.items():
        lam = sys.var(f"{name}.lambda", 1, None)
        for c, f, h in zip(cvars[name], face, others, strict=True):
            sys.eq({**c, lam: -f}, h)
    for name, row in p.fixed.items():
        for c, x in zip(cvars[name], row, strict=True):
            sys.eq(c, -x)
    for name, hyperplanes in p.need_rank.items():
        _independence(sys, cvars[name], hyperplanes, orient.get(name), p.cfg.coef_bound)
    values = solve(sys, p.cfg.solver)
    if values is None:
        return None
    coef = {st.name: [sum(values[v] * x for v, x in c.items()) for c in cvars[st.name]]
            for st in p.kernel.statements}
    const = {st.name: values[kvars[st.name]] for st in p.kernel.statements}
    objective = {sys.names[i]: values[i] for i in range(sys.n_objective)}
    return DimSolution(coef, const, objective)


def _objective_vars(sys: System, p: DimProblem) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for obj in p.objectives:
        if obj in ("parallel", "proximity"):
            out[obj] = {par: sys.var(f"{obj}.u_{par}", 0, p.cfg.coef_bound) for par in p.kernel.params}
            out[obj]["w"] = sys.var(f"{obj}.w", 0, None)
        else:
            out[obj] = {"v": sys.var(obj, 0, None)}
    return out


def _signed(p: DimProblem, st: Statement) -> list[bool]:
    """Per iterator: may its coefficient be negative?  ``reversal: descending`` allows it only
    for loops the program runs downwards (``step=-1``); the diamond row, everywhere."""
    if not p.signed:
        return [False] * st.depth
    if p.cfg.reversal == "descending" and not p.cone:
        return [lp.step < 0 for lp in st.loops]
    return [True] * st.depth


def _statement_vars(sys: System, p: DimProblem, signed: dict[str, list[bool]]
                    ) -> tuple[dict[str, list[LinExpr]], dict[str, list[LinExpr]], dict[str, int]]:
    """Per statement: each coefficient and its absolute value as linear expressions of the
    unknowns (``p`` or ``p - n`` and ``p + n``), and the shift variable."""
    neg: dict[str, list[int | None]] = {}
    for st in p.kernel.statements:  # negative parts first: the fewest reversals on ties
        nrev = [sys.var(f"{st.name}.n_{it}", 0, p.cfg.coef_bound) if sg else None
                for it, sg in zip(reversed(st.iters), reversed(signed[st.name]), strict=True)]
        neg[st.name] = list(reversed(nrev))
    cvars: dict[str, list[LinExpr]] = {}
    avars: dict[str, list[LinExpr]] = {}
    kvars: dict[str, int] = {}
    for st in p.kernel.statements:
        # reversed so that lexmin zeroes inner original loops first (keeps outer loops outer)
        rev = [sys.var(f"{st.name}.c_{it}", 0, p.cfg.coef_bound) for it in reversed(st.iters)]
        pos = list(reversed(rev))
        cvars[st.name], avars[st.name] = [], []
        for v, n in zip(pos, neg[st.name], strict=True):
            cvars[st.name].append({v: 1} if n is None else {v: 1, n: -1})
            avars[st.name].append({v: 1} if n is None else {v: 1, n: 1})
    for st in p.kernel.statements:
        kvars[st.name] = sys.var(f"{st.name}.shift", 0, p.cfg.shift_bound)
    return cvars, avars, kvars


def _scaled(expr: LinExpr, k: int) -> LinExpr:
    return {v: k * x for v, x in expr.items()}


def _dependence_constraints(sys: System, p: DimProblem, obj_vars: dict[str, dict[str, int]],
                            cvars: dict[str, list[LinExpr]], kvars: dict[str, int]) -> None:
    eps_vars: list[int] = []
    for dep in p.band_deps:
        cs, ct = cvars[dep.src], cvars[dep.dst]
        shift: LinExpr = {kvars[dep.dst]: 1}
        shift[kvars[dep.src]] = shift.get(kvars[dep.src], 0) - 1
        for bm in dep.rel.get_basic_maps():
            fr = farkas_rows(bm)
            if dep.validity:
                cst: Affine = (dict(shift), 0)
                if "carry_max" in p.objectives:
                    e = sys.var(f"eps.{dep.src}->{dep.dst}", 0, 1)
                    eps_vars.append(e)
                    cst = ({**shift, e: shift.get(e, 0) - 1}, 0)
                add_nonneg(sys, fr, cst, {}, [(_scaled(v, -1), 0) for v in cs], [(v, 0) for v in ct])
            for obj in ("parallel", "proximity"):
                if obj not in obj_vars or (obj == "parallel" and not dep.validity):
                    continue
                ov = obj_vars[obj]
                bound: LinExpr = {ov["w"]: 1, **{k: -v for k, v in shift.items()}}
                params = {par: ({ov[par]: 1}, 0) for par in p.kernel.params}
                add_nonneg(sys, fr, (bound, 0), params, [(v, 0) for v in cs],
                           [(_scaled(v, -1), 0) for v in ct])
    if "carry_max" in obj_vars:
        # unsatisfied = #deps - #strongly satisfied
        sys.eq({obj_vars["carry_max"]["v"]: 1, **dict.fromkeys(eps_vars, 1)}, -len(eps_vars))


def _cost_objectives(sys: System, p: DimProblem, obj_vars: dict[str, dict[str, int]],
                     avars: dict[str, list[LinExpr]]) -> None:
    for obj in ("stride1_inner", "large_outer", "min_coef"):
        if obj not in obj_vars:
            continue
        lin: LinExpr = {obj_vars[obj]["v"]: 1}
        for st in p.kernel.statements:
            if obj != "min_coef" and p.remaining_rank.get(st.name, 0) < 2:
                continue  # only outer dimensions are steered; the last one takes what is left
            costs = p.costs.get(obj, {}).get(st.name) if obj != "min_coef" else [1] * st.depth
            for a, c in zip(avars[st.name], costs or [], strict=False):
                for v, x in a.items():
                    lin[v] = lin.get(v, 0) - c * x
        sys.eq(lin, 0)


def _independence(sys: System, cv: list[LinExpr], hyperplanes: list[list[int]],
                  o: int | None = None, bound: int = 0) -> None:
    """Pluto's orthogonal-subspace constraints: the new row leaves span(hyperplanes).

    Each basis vector h of the orthogonal subspace (sign-normalised) gets h.c >= 0, and their
    sum s gets s.c >= 1.  With signed coefficients the 0/1 variable ``o`` picks that
    orientation (o = 0) or the opposite one (o = 1: h.c <= 0, s.c <= -1), by big-M rows
    with M = |h|_1 * bound (+ 1 for s), ``bound`` the coefficient bound: the reversed
    images of the unsigned choices."""
    basis = nullspace(hyperplanes, len(cv)) if hyperplanes else [
        [1 if i == j else 0 for i in range(len(cv))] for j in range(len(cv))]
    vecs = [[-x for x in vec] if all(x <= 0 for x in vec) else vec for vec in basis]
    rows = [_dot(cv, vec) for vec in vecs]
    total: LinExpr = {}
    for row in rows:
        for k, x in row.items():
            total[k] = total.get(k, 0) + x
    if o is None:
        for row in rows:
            sys.ge(row, 0)
        sys.ge(total, -1)
        return
    ssum = [sum(col) for col in zip(*vecs, strict=True)]
    big = [sum(map(abs, vec)) * bound for vec in vecs] + [sum(map(abs, ssum)) * bound + 1]
    for row, m, one in zip([*rows, total], big, [0] * len(rows) + [1], strict=True):
        sys.ge({**row, o: m}, -one)  # o = 0: row >= one
        sys.ge({**_scaled(row, -1), o: -m}, m - one)  # o = 1: row <= -one


def _dot(cv: list[LinExpr], vec: list[int]) -> LinExpr:
    out: LinExpr = {}
    for c, x in zip(cv, vec, strict=False):
        for v, y in c.items():
            out[v] = out.get(v, 0) + x * y
    return out


def nullspace(rows: list[list[int]], n: int) -> list[list[int]]:
    """Integer basis of {x | rows.x = 0} (exact rational elimination)."""
    mat = [[Fraction(x) for x in r] for r in rows]
    pivots: list[int] = []
    r = 0
    for c in range(n):
        piv = next((i for i in range(r, len(mat)) if mat[i][c] != 0), None)
        if piv is None:
            continue
        mat[r], mat[piv] = mat[piv], mat[r]
        mat[r] = [x / mat[r][c] for x in mat[r]]
        for i in range(len(mat)):
            if i != r and mat[i][c] != 0:
                f = mat[i][c]
                mat[i] = [a - f * b for a, b in zip(mat[i], mat[r], strict=False)]
        pivots.append(c)
        r += 1
    basis = []
    for free in (c for c in range(n) if c not in pivots):
        vec = [Fraction(0)] * n
        vec[free] = Fraction(1)
        for i, pc in enumerate(pivots):
            vec[pc] = -mat[i][free]
        den = lcm(*(x.denominator for x in vec))
        basis.append([int(x * den) for x in vec])
    return basis


def rank(rows: list[list[int]], n: int) -> int:
    return n - len(nullspace(rows, n)) if rows else 0


def access_costs(kernel: Kernel, st: Statement) -> list[int]:
    """Per iterator: how many accesses have it in the last (stride-1) subscript only."""
    costs = []
    for it in st.iters:
        c = 0
        for acc in [*st.reads, *st.writes]:
            if not acc.subscripts:
                continue
            uses = [it in identifiers(s) for s in acc.subscripts]
            if uses[-1] and not any(uses[:-1]):
                c += 1
        costs.append(c)
    return costs


def extent_costs(kernel: Kernel, st: Statement) -> list[int]:
    """Per iterator: how many of the statement's iterators have a larger trip count."""
    size = kernel.sizes.get("LARGE") or next(iter(kernel.sizes.values()))
    dom = kernel.domain_of(st)
    for i, par in enumerate(kernel.params):
        dom = dom.fix_val(isl.dim_type.param, i, isl.Val(size[par]))
    ext = []
    for d in range(st.depth):
        if dom.is_empty():
            ext.append(0)
            continue
        ext.append(dom.dim_max_val(d).to_python() - dom.dim_min_val(d).to_python() + 1)
    return [sum(1 for o in ext if o > e) for e in ext]


def identifiers(text: str) -> set[str]:
    """The names in an affine subscript text (iterators, parameters)."""
    import re

    return set(re.findall(r"\b[A-Za-z_]\w*\b", text))
