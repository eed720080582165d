"""Farkas linearisation via isl's ``coefficients`` operator.

"f(x) >= 0 for every point of the dependence polyhedron" is, by the affine form of
Farkas' lemma, a set of linear constraints on the coefficients of f.  isl computes that
set directly (``isl_basic_set_coefficients``), so no Farkas multipliers ever enter our
ILP: the system stays as small as isl's own scheduler keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

import islpy as isl

from .ilp import LinExpr, System

Affine = tuple[LinExpr, int]  # linear part over ILP unknowns, constant


@dataclass
class FarkasRows:
    params: list[str]
    n_src: int
    n_dst: int
    rows: list[tuple[list[int], int, bool]]  # coefficients over the tuple, constant, equality


_CACHE: dict[str, FarkasRows] = {}


def farkas_rows(rel: isl.BasicMap) -> FarkasRows:
    """Constraints on (c_cst, c_params, c_src, c_dst) of forms non-negative on ``rel``."""
    key = str(rel)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    coeffs = rel.wrap().coefficients()
    if coeffs.dim(isl.dim_type.div):
        coeffs = coeffs.remove_divs()  # rational relaxation: still sound (over-approximates)
    n = coeffs.dim(isl.dim_type.set)
    rows = []
    for con in coeffs.get_constraints():
        vec = [con.get_coefficient_val(isl.dim_type.set, i).to_python() for i in range(n)]
        rows.append((vec, con.get_constant_val().to_python(), con.is_equality()))
    params = [str(rel.get_dim_name(isl.dim_type.param, i)) for i in range(rel.dim(isl.dim_type.param))]
    out = FarkasRows(params, rel.dim(isl.dim_type.in_), rel.dim(isl.dim_type.out), rows)
    if len(_CACHE) > 20000:
        _CACHE.clear()
    _CACHE[key] = out
    return out


def add_nonneg(system: System, fr: FarkasRows, cst: Affine, params: dict[str, Affine],
               src: list[Affine], dst: list[Affine]) -> None:
    """Require c_cst + c_p.N + c_src.s + c_dst.t >= 0 over the relation ``fr``."""
    zero: Affine = ({}, 0)
    tuple_: list[Affine] = [cst, *(params.get(p, zero) for p in fr.params), *src, *dst]
    for vec, const, is_eq in fr.rows:
        lin: LinExpr = {}
        total = const
        for a, (expr, c0) in zip(vec, tuple_, strict=False):
            if not a:
                continue
            total += a * c0
            for k, v in expr.items():
                lin[k] = lin.get(k, 0) + a * v
        if is_eq:
            system.eq(lin, total)
        else:
            system.ge(lin, total)
