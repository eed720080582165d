"""Farkas linearisation: the cone of affine forms non-negative on a dependence polyhedron.

"f(x) >= 0 for every point of the dependence polyhedron" is, by the affine form of
Farkas' lemma, a set of linear constraints on the coefficients of f, so no Farkas
multipliers ever enter our ILP.  That set is the polar of the polyhedron's generators
(Minkowski-Weyl): f(v) >= 0 at each vertex v, f's linear part >= 0 on each ray and = 0 on
each line.  ``generators`` computes them by the double description method (exact integer
arithmetic); isl's ``coefficients`` operator (which eliminates the multipliers by
Fourier-Motzkin and took 1-85 s per relation on heat-3d's dependences) is the fallback
for relations with existentially quantified variables, an empty polyhedron, more than 64
inequalities or values that could overflow int64.  Both describe the same cone, so the ILP has the same integer
points and its lexicographic minimum (the schedule) is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import islpy as isl
import numpy as np

from .ilp import LinExpr, System

Affine = tuple[LinExpr, int]  # linear part over ILP unknowns, constant


@dataclass
class FarkasRows:
    params: list[str]
    n_src: int
    n_dst: int
    mat: np.ndarray  # per row: coefficients over the tuple (c_cst, c_params, c_src, c_dst)
    const: np.ndarray  # per row: constant
    eq: np.ndarray  # per row: equality?


_CACHE: dict[str, FarkasRows] = {}


def farkas_rows(rel: isl.BasicMap) -> FarkasRows:
    """Constraints on (c_cst, c_params, c_src, c_dst) of forms non-negative on ``rel``."""
    key = str(rel)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    params = [str(rel.get_dim_name(isl.dim_type.param, i)) for i in range(rel.dim(isl.dim_type.param))]
    n_in, n_out = rel.dim(isl.dim_type.in_), rel.dim(isl.dim_type.out)
    gen = generators(rel) if rel.dim(isl.dim_type.div) == 0 else None
    if gen is not None:
        out = FarkasRows(params, n_in, n_out, *gen)
    else:
        out = _isl_rows(rel, params, n_in, n_out)
    if len(_CACHE) > 20000:
        _CACHE.clear()
    _CACHE[key] = out
    return out


def _isl_rows(rel: isl.BasicMap, params: list[str], n_in: int, n_out: int) -> FarkasRows:
    coeffs = rel.wrap().coefficients()
    if coeffs.dim(isl.dim_type.div):
        coeffs = coeffs.remove_divs()  # rational relaxation: still sound (over-approximates)
    n = coeffs.dim(isl.dim_type.set)
    cons = coeffs.get_constraints()
    mat = np.array([[con.get_coefficient_val(isl.dim_type.set, i).to_python() for i in range(n)]
                    for con in cons], dtype=np.int64).reshape(len(cons), n)
    const = np.array([con.get_constant_val().to_python() for con in cons], dtype=np.int64)
    eq = np.array([con.is_equality() for con in cons], dtype=bool)
    return FarkasRows(params, n_in, n_out, mat, const, eq)


def _fits(n: int, vecs: list[np.ndarray], row: np.ndarray) -> bool:
    """One step's arithmetic stays inside int64: dot products (< n M R) times entries (<= M),
    with M the largest entry of the generators and R of the row (else isl takes the relation)."""
    big = max((int(np.abs(v).max()) for v in vecs if v.size), default=0)
    return n * big * big * max(int(np.abs(row).max()), 1) < (1 << 62)


def _constraints(rel: isl.BasicMap) -> tuple[np.ndarray, np.ndarray]:
    """Rows over the homogenised space (params, in, out, 1): equalities, inequalities."""
    kinds = (isl.dim_type.param, isl.dim_type.in_, isl.dim_type.out)
    eqs: list[list[int]] = []
    ineqs: list[list[int]] = []
    for con in rel.get_constraints():
        row = [con.get_coefficient_val(t, i).to_python() for t in kinds for i in range(rel.dim(t))]
        row.append(con.get_constant_val().to_python())
        (eqs if con.is_equality() else ineqs).append(row)
    n = sum(rel.dim(t) for t in kinds) + 1
    return (np.array(eqs, dtype=np.int64).reshape(-1, n), np.array(ineqs, dtype=np.int64).reshape(-1, n))


def _normalise(v: np.ndarray) -> np.ndarray:
    g = np.gcd.reduce(v, axis=-1, keepdims=True) if v.size else v
    return v // np.where(g == 0, 1, g)


def generators(rel: isl.BasicMap) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Farkas rows (mat, const, eq) of ``rel`` from its vertices, rays and lines; None: use isl.

    The generators of the homogenised cone {(x, x0) | A x + b x0 >= 0, x0 >= 0,
    E x + f x0 = 0} come from the double description method (Motzkin et al.; exact integer
    arithmetic, combinatorial adjacency test), started from the whole space (every unit
    vector a line).  A ray with x0 > 0 is a vertex x / x0 (row x0 * c_cst + x . c >= 0),
    one with x0 = 0 a ray of the polyhedron (x . c >= 0); a line gives x . c = 0.
    """
    e, a = _constraints(rel)
    n = e.shape[1]
    x0 = np.zeros((1, n), dtype=np.int64)
    x0[0, -1] = 1
    out = _double_description(e, np.vstack([x0, a]))
    if out is None:
        return None
    rays, lines = out
    if not (rays[:, -1] > 0).any():
        return None  # an empty polyhedron: isl answers the universe
    # tuple order (c_cst, c_params, c_src, c_dst): the homogenising coordinate first
    gens = np.vstack([rays, lines])
    mat = np.hstack([gens[:, -1:], gens[:, :-1]])
    const = np.zeros(len(mat), dtype=np.int64)
    eq = np.concatenate([np.zeros(len(rays), dtype=bool), np.ones(len(lines), dtype=bool)])
    return mat, const, eq


def _double_description(e: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Extreme rays and a basis of the lineality space of {z | e.z = 0, a.z >= 0}."""
    n = a.shape[1]
    m = a.shape[0]
    if m > 64:
        return None  # zero sets are uint64 bit masks
    lines = np.eye(n, dtype=np.int64)
    rays = np.zeros((0, n), dtype=np.int64)
    zero = np.zeros(0, dtype=np.uint64)  # per ray: bit i set when tight on inequality i
    for row in e:  # equalities: the kernel of e, inside the lines (no rays yet)
        if not _fits(n, [lines], row):
            return None
        v = lines @ row
        nz = np.nonzero(v)[0]
        if not len(nz):
            continue
        k = nz[0]
        lines = _normalise(np.delete(v[k] * lines - v[:, None] * lines[k], k, axis=0))
    space = len(lines)  # dimension of the kernel of e, where the cone lives
    done = np.uint64(0)  # inequalities processed so far
    for i, row in enumerate(a):
        if not _fits(n, [lines, rays], row):
            return None
        bit = np.uint64(1) << np.uint64(i)
        v = lines @ row
        nz = np.nonzero(v)[0]
        if len(nz):  # a line leaves the lineality space and becomes a ray, tight on all before
            k = nz[0]
            l0 = lines[k] if v[k] > 0 else -lines[k]
            a0 = abs(int(v[k]))
            lines = _normalise(np.delete(a0 * lines - v[:, None] * l0, k, axis=0))
            if len(rays):
                rays = _normalise(a0 * rays - (rays @ row)[:, None] * l0)
            rays = np.vstack([rays, l0])
            zero = np.concatenate([zero | bit, np.array([done], dtype=np.uint64)])
        else:
            vr = rays @ row
            pos, neg = np.nonzero(vr > 0)[0], np.nonzero(vr < 0)[0]
            new_rays, new_zero = [], []
            if len(pos) and len(neg):
                dim = space - len(lines)  # of the pointed part
                for p in pos:
                    common = zero[neg] & zero[p]
                    ok = np.bitwise_count(common) >= dim - 2
                    for j, c in zip(neg[ok], common[ok], strict=True):
                        # adjacent: no third ray is tight on every row both are tight on
                        if int(np.count_nonzero((zero & c) == c)) > 2:
                            continue
                        new_rays.append(vr[p] * rays[j] - vr[j] * rays[p])
                        new_zero.append(c | bit)
            keep = vr >= 0
            zero = np.where(vr == 0, zero | bit, zero)[keep]
            rays = rays[keep]
            if new_rays:
                rays = np.vstack([rays, _normalise(np.array(new_rays, dtype=np.int64))])
                zero = np.concatenate([zero, np.array(new_zero, dtype=np.uint64)])
        done |= bit
    return rays, lines


def add_nonneg(system: System, fr: FarkasRows, cst: Affine, params: dict[str, Affine],
               src: list[Affine], dst: list[Affine]) -> None:
    """Require c_cst + c_p.N + c_src.s + c_dst.t >= 0 over the relation ``fr``."""
    zero: Affine = ({}, 0)
    tuple_: list[Affine] = [cst, *(params.get(p, zero) for p in fr.params), *src, *dst]
    cols = sorted({k for expr, _ in tuple_ for k in expr})
    where = {k: j for j, k in enumerate(cols)}
    sub = np.zeros((len(tuple_), len(cols)), dtype=np.int64)  # tuple entry -> ILP unknowns
    c0 = np.array([c for _, c in tuple_], dtype=np.int64)
    for t, (expr, _) in enumerate(tuple_):
        for k, v in expr.items():
            sub[t, where[k]] += v
    system.block(cols, fr.mat @ sub, fr.const + fr.mat @ c0, fr.eq)
