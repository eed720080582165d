"""Integer linear systems for one schedule dimension, and the two solvers.

The unknowns are ordered so that the lexicographic minimum *is* the objective order:
objective variables first (in the configured priority), then per-statement schedule
coefficients.  isl's exact integer ``lexmin`` is the default solver; HiGHS through
``scipy.optimize.milp`` is the second one (lexicographic via one solve per objective
variable, then a weighted tie-break over the rest).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import islpy as isl

LinExpr = dict[int, int]  # variable index -> integer coefficient


@dataclass
class Row:
    coef: LinExpr
    const: int
    eq: bool = False  # coef.x + const == 0 (else >= 0)


@dataclass
class System:
    names: list[str] = field(default_factory=list)
    lower: list[int] = field(default_factory=list)
    upper: list[int | None] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    n_objective: int = 0  # the first n variables are objective variables

    def var(self, name: str, lo: int = 0, hi: int | None = None) -> int:
        self.names.append(name)
        self.lower.append(lo)
        self.upper.append(hi)
        return len(self.names) - 1

    def ge(self, coef: LinExpr, const: int = 0) -> None:
        coef = {k: v for k, v in coef.items() if v}
        if coef or const < 0:
            self.rows.append(Row(coef, const))

    def eq(self, coef: LinExpr, const: int = 0) -> None:
        self.rows.append(Row({k: v for k, v in coef.items() if v}, const, eq=True))

    @property
    def n(self) -> int:
        return len(self.names)


def add(a: LinExpr, b: LinExpr, scale: int = 1) -> LinExpr:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + scale * v
    return out


def solve(system: System, solver: str = "isl") -> list[int] | None:
    if solver == "milp":
        return _solve_milp(system)
    return _solve_isl(system)


def _to_isl(system: System) -> isl.BasicSet:
    """Build the set from a PolyLib-format matrix: one parse, linear in the row count.

    (Adding thousands of constraints one by one, or parsing "a and b and ...", is
    quadratic in isl and dominated scheduling time on kernels like deriche.)
    """
    n = system.n
    lines: list[str] = []
    seen: set[tuple] = set()

    def row(coef: dict[int, int], const: int, eq: bool) -> None:
        key = (tuple(sorted(coef.items())), const, eq)
        if key in seen:
            return  # Farkas systems of similar dependences repeat rows
        seen.add(key)
        vec = [0] * n
        for k, v in coef.items():
            vec[k] = v
        lines.append(f"{0 if eq else 1} {' '.join(map(str, vec))} {const}")

    for i in range(n):
        row({i: 1}, -system.lower[i], False)
        hi = system.upper[i]
        if hi is not None:
            row({i: -1}, hi, False)
    for r in system.rows:
        row(r.coef, r.const, r.eq)
    text = f"{len(lines)} {n + 2}\n" + "\n".join(lines)
    return isl.BasicSet.read_from_str(isl.DEFAULT_CONTEXT, text)


def _solve_isl(system: System) -> list[int] | None:
    bset = _to_isl(system)
    if bset.is_empty():
        return None
    sol = bset.lexmin()
    if sol.is_empty():
        return None
    pt = sol.sample_point()
    return [pt.get_coordinate_val(isl.dim_type.set, i).to_python() for i in range(system.n)]


def _solve_milp(system: System) -> list[int] | None:
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = system.n
    a = np.zeros((len(system.rows), n))
    lo = np.zeros(len(system.rows))
    hi = np.zeros(len(system.rows))
    for r, row in enumerate(system.rows):
        for k, v in row.coef.items():
            a[r, k] = v
        lo[r] = -row.const
        hi[r] = -row.const if row.eq else np.inf
    ub = np.array([np.inf if u is None else u for u in system.upper], dtype=float)
    bounds = Bounds(np.array(system.lower, dtype=float), ub)
    integ = np.ones(n)
    cons = [LinearConstraint(a, lo, hi)] if len(system.rows) else []
    fixed: list[tuple[int, float]] = []
    # lexicographic over objective variables, one solve each
    for k in range(system.n_objective):
        res = _milp_once(milp, np, n, {k: 1.0}, cons, bounds, integ, fixed)
        if res is None:
            return None
        fixed.append((k, round(res[k])))
    # tie-break: remaining variables with geometrically decreasing weights (lexmin-like)
    rest = range(system.n_objective, n)
    weights = {k: float(2 ** max(0, 20 - j)) for j, k in enumerate(rest)}
    res = _milp_once(milp, np, n, weights, cons, bounds, integ, fixed)
    return None if res is None else [round(x) for x in res]


def _milp_once(milp, np, n, weights, cons, bounds, integ, fixed):  # type: ignore[no-untyped-def]
    c = np.zeros(n)
    for k, w in weights.items():
        c[k] = w
    lb, ub = bounds.lb.copy(), bounds.ub.copy()
    for k, v in fixed:
        lb[k] = ub[k] = v
    from scipy.optimize import Bounds

    res = milp(c, constraints=cons, integrality=integ, bounds=Bounds(lb, ub),
               options={"time_limit": 20})
    if res.x is None or res.status not in (0,):
        return None
    return res.x
