"""Farkas linearisation via isl's ``coefficients`` operator.

"f(x) >= 0 for every point of the dependence polyhedron" is, by the affine form of
Farkas' lemma, a set of linear constraints on the coefficients of f.  isl computes that
set directly (``isl_basic_set_coefficients``), so no Farkas multipliers ever enter our
ILP: the system stays as small as isl's own scheduler keeps it.
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
    coeffs = rel.wrap().coefficients()
    if coeffs.dim(isl.dim_type.div):
        coeffs = coeffs.remove_divs()  # rational relaxation: still sound (over-approximates)
    n = coeffs.dim(isl.dim_type.set)
    cons = coeffs.get_constraints()
    mat = np.array([[con.get_coefficient_val(isl.dim_type.set, i).to_python() for i in range(n)]
                    for con in cons], dtype=np.int64).reshape(len(cons), n)
    const = np.array([con.get_constant_val().to_python() for con in cons], dtype=np.int64)
    eq = np.array([con.is_equality() for con in cons], dtype=bool)
    params = [str(rel.get_dim_name(isl.dim_type.param, i)) for i in range(rel.dim(isl.dim_type.param))]
    out = FarkasRows(params, rel.dim(isl.dim_type.in_), rel.dim(isl.dim_type.out), mat, const, eq)
    if len(_CACHE) > 20000:
        _CACHE.clear()
    _CACHE[key] = out
    return out


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
