"""Integer linear systems for one schedule dimension, and the two solvers.

The unknowns are ordered so that the lexicographic minimum *is* the objective order:
objective variables first (in the configured priority), then per-statement schedule
coefficients.  isl's exact integer ``lexmin`` is the default solver; HiGHS through
``scipy.optimize.milp`` is the second one (lexicographic via one solve per objective
variable, then a weighted tie-break over the rest).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import islpy as isl
import numpy as np

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
    # blocks of rows in matrix form (Farkas systems): columns (variable indices), coefficient
    # matrix, constants, equality flags; same meaning as ``rows``, far cheaper to build
    blocks: list[tuple[list[int], np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    n_objective: int = 0  # the first n variables are objective variables
    # large systems through HiGHS objectives + lazy rows (see _solve_isl); set for kernels with
    # constant sizes, whose Farkas rows are the vertices of their dependence polytopes
    lazy: bool = False
    # isl's lexmin gets a budget of operations (``reversal: true``: with the 0/1 orientation
    # variables it ran for minutes on fdtd-2d); over it, HiGHS one variable at a time
    guard: bool = False

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

    def block(self, cols: list[int], a: np.ndarray, const: np.ndarray, eq: np.ndarray) -> None:
        """Rows ``a[r] . x[cols] + const[r] (== if eq[r] else >=) 0``; like ``ge``, inequalities
        without a variable that hold anyway are dropped."""
        keep = eq | a.any(axis=1) | (const < 0)
        self.blocks.append((cols, a[keep], const[keep], eq[keep]))

    @property
    def n(self) -> int:
        return len(self.names)

    def matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Bounds and every constraint as one dense system (coefficients, constants, equality
        flags), duplicate rows dropped (Farkas systems of similar dependences repeat rows)."""
        a, b, e, _group = self.grouped_matrix()
        return a, b, e

    def grouped_matrix(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``matrix`` and, per row, the block it came from (-1: bounds and single rows)."""
        n = self.n
        parts_a, parts_b, parts_e, parts_g = [], [], [], []
        lo = np.eye(n, dtype=np.int64)
        parts_a.append(lo)
        parts_b.append(-np.array(self.lower, dtype=np.int64))
        parts_e.append(np.zeros(n, dtype=bool))
        parts_g.append(np.full(n, -1))
        his = [i for i, h in enumerate(self.upper) if h is not None]
        if his:
            up = np.zeros((len(his), n), dtype=np.int64)
            up[np.arange(len(his)), his] = -1
            parts_a.append(up)
            parts_b.append(np.array([self.upper[i] for i in his], dtype=np.int64))
            parts_e.append(np.zeros(len(his), dtype=bool))
            parts_g.append(np.full(len(his), -1))
        if self.rows:
            a = np.zeros((len(self.rows), n), dtype=np.int64)
            for r, row in enumerate(self.rows):
                for k, v in row.coef.items():
                    a[r, k] = v
            parts_a.append(a)
            parts_b.append(np.array([row.const for row in self.rows], dtype=np.int64))
            parts_e.append(np.array([row.eq for row in self.rows], dtype=bool))
            parts_g.append(np.full(len(self.rows), -1))
        for index, (cols, ba, bb, be) in enumerate(self.blocks):
            a = np.zeros((len(bb), n), dtype=np.int64)
            a[:, cols] = ba
            parts_a.append(a)
            parts_b.append(bb.astype(np.int64))
            parts_e.append(be)
            parts_g.append(np.full(len(bb), index))
        a, b, e = np.vstack(parts_a), np.concatenate(parts_b), np.concatenate(parts_e)
        return _tightest(a, b, e, np.concatenate(parts_g))


def _tightest(a: np.ndarray, b: np.ndarray, e: np.ndarray, group: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same integer points with fewer rows: every inequality divided by the gcd g of its
    coefficients (a.x + b >= 0 iff (a/g).x + floor(b/g) >= 0 for integer x), then, of the
    inequalities with the same coefficients, only the one with the smallest constant (it
    implies the others); duplicate equalities dropped.  Farkas rows of similar dependences
    are mostly such parallel rows.  Rows keep the order of their first occurrence."""
    a, b = a.copy(), b.copy()
    ineq = ~e
    g = np.gcd.reduce(a[ineq], axis=1) if a.shape[1] else np.zeros(int(ineq.sum()), dtype=np.int64)
    g = np.where(g == 0, 1, g)
    a[ineq] //= g[:, None]
    b[ineq] //= g  # floor division: the integer tightening
    first: dict[bytes, int] = {}
    for i in range(len(b)):
        key = a[i].tobytes() + (b"=" + b[i].tobytes() if e[i] else b">")
        j = first.get(key)
        if j is None:
            first[key] = i
        elif not e[i] and b[i] < b[j]:
            b[j] = b[i]
    keep = sorted(first.values())
    return a[keep], b[keep], e[keep], group[keep]


def add(a: LinExpr, b: LinExpr, scale: int = 1) -> LinExpr:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + scale * v
    return out


def solve(system: System, solver: str = "isl") -> list[int] | None:
    if solver == "milp":
        return _solve_milp(system)
    return _solve_isl(system)


def _to_isl(a: np.ndarray, b: np.ndarray, eq: np.ndarray) -> isl.BasicSet:
    """Build the set from a PolyLib-format matrix: one parse, linear in the row count.

    (Adding thousands of constraints one by one, or parsing "a and b and ...", is
    quadratic in isl and dominated scheduling time on kernels like deriche.)
    """
    n = a.shape[1]
    mat = np.hstack([(~eq).astype(np.int64)[:, None], a, b[:, None]])
    lo, hi = (int(mat.min()), int(mat.max())) if mat.size else (0, 0)
    if hi - lo <= 4096:  # each number's text looked up once (half the time of str() per entry)
        table = np.array([str(v) for v in range(lo, hi + 1)], dtype=object)
        lines: Iterable[str] = map(" ".join, table[mat - lo].tolist())
    else:
        lines = (" ".join(map(str, r)) for r in mat.tolist())
    text = f"{len(mat)} {n + 2}\n" + "\n".join(lines)
    return isl.BasicSet.read_from_str(isl.DEFAULT_CONTEXT, text)


def _lexmin(a: np.ndarray, b: np.ndarray, eq: np.ndarray) -> list[int] | None:
    bset = _to_isl(a, b, eq)
    if bset.is_empty():
        return None
    sol = bset.lexmin()
    if sol.is_empty():
        return None
    pt = sol.sample_point()
    return [pt.get_coordinate_val(isl.dim_type.set, i).to_python() for i in range(a.shape[1])]


LAZY_ROWS = 1000  # systems with more inequalities: objectives by HiGHS, then lazy constraint generation


def _solve_isl(system: System) -> list[int] | None:
    """isl's exact lexmin; large ``lazy`` systems through a growing subset of their inequalities.

    Farkas systems of dependences over constant-size domains (the built-in generator's
    convolutions) have one row per vertex of each dependence polytope: thousands of rows,
    most of them redundant.  Solving a subset is a relaxation: if its optimum satisfies
    every row, it is the optimum of the whole system, so the answer is identical (the
    lexmin point is unique; each objective's minimum value is unique); otherwise the most
    violated row of each Farkas block joins the subset and the solve repeats (``_grow``).
    An infeasible subset means an infeasible system.  The objective variables come first,
    one HiGHS minimisation each, then isl's lexmin of the rest.  Only for ``lazy`` systems:
    on parametric ones (deriche) isl's lexmin of the whole system was faster.
    """
    a, b, eq, group = system.grouped_matrix()
    if system.guard:
        return _guarded_lexmin(a, b, eq, group)
    if not system.lazy or int((~eq).sum()) <= LAZY_ROWS:
        return _lexmin(a, b, eq)
    active = eq | ((a != 0).sum(axis=1) <= 1)  # equalities and single-variable bounds: always in
    keys = [r.tobytes() for r in np.hstack([a, b[:, None]])]
    active |= np.array([k in _SEEN for k in keys], dtype=bool)  # rows the previous system needed
    fixed = _objectives_first(a, b, eq, system.n_objective, active, group)
    if fixed is None:
        return None
    # the objective variables at their (lexicographic) minimum: equalities from here on
    a = np.vstack([a, np.eye(a.shape[1], dtype=np.int64)[:len(fixed)]])
    b = np.concatenate([b, -np.array(fixed, dtype=np.int64)])
    eq = np.concatenate([eq, np.ones(len(fixed), dtype=bool)])
    group = np.concatenate([group, np.full(len(fixed), -1)])
    active = np.concatenate([active, np.ones(len(fixed), dtype=bool)])
    while True:
        x = _lexmin(a[active], b[active], eq[active])
        if x is None:
            return None
        if not _grow(a, b, np.array(x, dtype=np.int64), active, group):
            _SEEN.clear()
            _SEEN.update(k for k, on in zip(keys, active[:len(keys)], strict=True) if on)
            return x


GUARD_OPS = 100000  # isl operations (coarse: about 8 s on fdtd-2d's signed system)


def _guarded_lexmin(a: np.ndarray, b: np.ndarray, eq: np.ndarray, group: np.ndarray) -> list[int] | None:
    """isl's lexmin within ``GUARD_OPS`` operations, else the lexicographic minimum by HiGHS,
    one integer minimisation per variable (``_objectives_first`` over every variable); its
    point is checked exactly against every row (None, i.e. no hyperplane, if it fails)."""
    ctx = isl.DEFAULT_CONTEXT
    ctx.set_max_operations(GUARD_OPS)
    ctx.reset_operations()
    try:
        return _lexmin(a, b, eq)
    except isl.Error:
        pass
    finally:
        ctx.set_max_operations(0)
    x = _objectives_first(a, b, eq, a.shape[1], np.ones(len(b), dtype=bool), group)
    if x is None:
        return None
    v = a @ np.array(x, dtype=np.int64) + b
    return x if bool(np.all(np.where(eq, v == 0, v >= 0))) else None


# the rows a lazy system ended with: the next dimension's system (same dependences, mostly the
# same rows) starts from them; only saves rounds, the answer is the same
_SEEN: set[bytes] = set()


def _grow(a: np.ndarray, b: np.ndarray, x: np.ndarray, active: np.ndarray, group: np.ndarray) -> bool:
    """Activate the most violated inactive inequality of each block at ``x`` (all rows not in
    a block: their most violated ones); False when ``x`` satisfies every row."""
    pool = np.nonzero(~active)[0]
    slack = a[pool] @ x + b[pool]
    bad = pool[slack < 0]
    if not len(bad):
        return False
    order = np.lexsort((bad, slack[slack < 0]))  # most violated first, then row order
    seen: set[int] = set()
    for r in bad[order]:
        g = int(group[r])
        if g not in seen:
            seen.add(g)
            active[r] = True
    return True


def _objectives_first(a: np.ndarray, b: np.ndarray, eq: np.ndarray, k: int, active: np.ndarray,
                      group: np.ndarray) -> list[int] | None:
    """The first ``k`` variables of the lexicographic minimum, one integer minimisation each
    (HiGHS; exact: each variable at its minimum given the earlier ones), each over the
    ``active`` rows, grown (``_grow``) until the optimum satisfies every row.  isl's lexmin
    of the whole system could run for minutes on these objective rows; once they are
    fixed it is fast."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = a.shape[1]
    lb, ub = np.full(n, -np.inf), np.full(n, np.inf)
    out: list[int] = []
    for v in range(k):
        c = np.zeros(n)
        c[v] = 1.0
        while True:
            sa, sb, se = a[active].astype(float), -b[active].astype(float), eq[active]
            res = milp(c, constraints=[LinearConstraint(sa, sb, np.where(se, sb, np.inf))],
                       integrality=np.ones(n), bounds=Bounds(lb, ub), options={"mip_rel_gap": 0.0})
            if res.status != 0 or res.x is None:
                return None
            if not _grow(a, b, np.round(res.x).astype(np.int64), active, group):
                break
        out.append(round(res.x[v]))
        lb[v] = ub[v] = out[-1]
    return out


def _solve_milp(system: System) -> list[int] | None:
    from scipy.optimize import Bounds, LinearConstraint, milp

    n = system.n
    a_int, b_int, e_int = system.matrix()
    a = a_int.astype(float)
    lo = -b_int.astype(float)
    hi = np.where(e_int, lo, np.inf)
    ub = np.array([np.inf if u is None else u for u in system.upper], dtype=float)
    bounds = Bounds(np.array(system.lower, dtype=float), ub)
    integ = np.ones(n)
    cons = [LinearConstraint(a, lo, hi)] if len(b_int) else []
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
