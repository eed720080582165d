"""Build and solve the ILP for one schedule dimension (objectives + constraints).

Variables are created in priority order so that lexmin == lexicographic objective
minimisation: objective variables (per configuration), then per statement the
iterator coefficients in *reverse* loop order (so ties keep original outer loops
outer, as Pluto does), then the constant shifts.
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


def solve_dim(p: DimProblem) -> DimSolution | None:
    sys = System(lazy=not p.kernel.params)
    obj_vars = _objective_vars(sys, p)
    sys.n_objective = sys.n
    cvars, kvars = _statement_vars(sys, p)
    _dependence_constraints(sys, p, obj_vars, cvars, kvars)
    _cost_objectives(sys, p, obj_vars, cvars)
    for name, hyperplanes in p.need_rank.items():
        _independence(sys, cvars[name], hyperplanes)
    values = solve(sys, p.cfg.solver)
    if values is None:
        return None
    coef = {st.name: [values[v] for v in cvars[st.name]] for st in p.kernel.statements}
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


def _statement_vars(sys: System, p: DimProblem) -> tuple[dict[str, list[int]], dict[str, int]]:
    cvars: dict[str, list[int]] = {}
    kvars: dict[str, int] = {}
    for st in p.kernel.statements:
        # reversed so that lexmin zeroes inner original loops first (keeps outer loops outer)
        rev = [sys.var(f"{st.name}.c_{it}", 0, p.cfg.coef_bound) for it in reversed(st.iters)]
        cvars[st.name] = list(reversed(rev))
    for st in p.kernel.statements:
        kvars[st.name] = sys.var(f"{st.name}.shift", 0, p.cfg.shift_bound)
    return cvars, kvars


def _dependence_constraints(sys: System, p: DimProblem, obj_vars: dict[str, dict[str, int]],
                            cvars: dict[str, list[int]], kvars: dict[str, int]) -> None:
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
                add_nonneg(sys, fr, cst, {}, [({v: -1}, 0) for v in cs], [({v: 1}, 0) for v in ct])
            for obj in ("parallel", "proximity"):
                if obj not in obj_vars or (obj == "parallel" and not dep.validity):
                    continue
                ov = obj_vars[obj]
                bound: LinExpr = {ov["w"]: 1, **{k: -v for k, v in shift.items()}}
                params = {par: ({ov[par]: 1}, 0) for par in p.kernel.params}
                add_nonneg(sys, fr, (bound, 0), params, [({v: 1}, 0) for v in cs],
                           [({v: -1}, 0) for v in ct])
    if "carry_max" in obj_vars:
        # unsatisfied = #deps - #strongly satisfied
        sys.eq({obj_vars["carry_max"]["v"]: 1, **dict.fromkeys(eps_vars, 1)}, -len(eps_vars))


def _cost_objectives(sys: System, p: DimProblem, obj_vars: dict[str, dict[str, int]],
                     cvars: dict[str, list[int]]) -> None:
    for obj in ("stride1_inner", "large_outer", "min_coef"):
        if obj not in obj_vars:
            continue
        lin: LinExpr = {obj_vars[obj]["v"]: 1}
        for st in p.kernel.statements:
            if obj != "min_coef" and p.remaining_rank.get(st.name, 0) < 2:
                continue  # only outer dimensions are steered; the last one takes what is left
            costs = p.costs.get(obj, {}).get(st.name) if obj != "min_coef" else [1] * st.depth
            for v, c in zip(cvars[st.name], costs or [], strict=False):
                lin[v] = lin.get(v, 0) - c
        sys.eq(lin, 0)


def _independence(sys: System, cv: list[int], hyperplanes: list[list[int]]) -> None:
    """Pluto's orthogonal-subspace constraints: the new row leaves span(hyperplanes)."""
    basis = nullspace(hyperplanes, len(cv)) if hyperplanes else [
        [1 if i == j else 0 for i in range(len(cv))] for j in range(len(cv))]
    total: LinExpr = {}
    for vec in basis:
        if all(x <= 0 for x in vec):
            vec = [-x for x in vec]
        row = {v: x for v, x in zip(cv, vec, strict=False) if x}
        sys.ge(row, 0)
        for k, x in row.items():
            total[k] = total.get(k, 0) + x
    sys.ge(total, -1)


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
            uses = [it in _idents(s) for s in acc.subscripts]
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


def _idents(text: str) -> set[str]:
    import re

    return set(re.findall(r"\b[A-Za-z_]\w*\b", text))
