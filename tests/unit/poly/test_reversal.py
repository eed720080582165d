"""Loop reversal: signed schedule coefficients (config key ``reversal``)."""

from __future__ import annotations

import shutil

import pytest
from poly_check import assert_same_results

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.deps import check_schedule, compute_dependences
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build, dependences
from akg_agents.poly.scheduler import schedule
from akg_agents.poly.tree import to_tree

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

REV = {"base": "cpu_vectorize", "reversal": True}


def _backward() -> Kernel:
    """Rows top to bottom, each row right to left, reading its right and upper-right
    neighbours: dependence distances (0, -1) and (1, -1) in (i, j), so every valid
    hyperplane with j has a negative j coefficient; tileable only as (i, -j)."""
    k = Kernel("backward", ["N"], {"MINI": {"N": 12}})
    k.array("A", ["N", "N"])
    with k.loop("i", 1, "N"), k.loop("j", "N-2", -1, step=-1):
        k.stmt("A[i][j] = 0.5 * (A[i][j+1] + A[i-1][j+1])")
    return k


def _bands(cfg_data: dict, k: Kernel):  # type: ignore[no-untyped-def]
    cfg = from_dict(cfg_data)
    deps = compute_dependences(k)
    res = schedule(k, deps, cfg)
    assert not check_schedule(to_tree(res).get_map(), deps.all)
    return res, [lv.coef[k.statements[0].name] for lv in res.levels if lv.kind == "band"]


def test_backward_nest_needs_a_negative_coefficient() -> None:
    k = _backward()
    res, rows = _bands({"base": "cpu_vectorize"}, k)
    assert res.fallback  # no valid hyperplane with j among non-negative coefficients
    res, rows = _bands(REV, k)
    assert not res.fallback
    assert rows == [[1, 0], [0, -1]]
    assert len({lv.band for lv in res.levels if lv.kind == "band"}) == 1  # one permutable band


def test_no_gratuitous_reversal() -> None:
    """Without a dependence that forces it, the un-reversed loop wins the tie."""
    k = Kernel("copy", ["N"], {"MINI": {"N": 8}})
    k.array("A", ["N", "N"])
    k.array("B", ["N", "N"])
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt("A[i][j] = B[i][j] + 1")
    _res, rows = _bands(REV, k)
    assert rows == [[1, 0], [0, 1]]


@pytest.mark.parametrize("name", ["gemm", "jacobi-1d", "trisolv"])
def test_reversal_keeps_schedules_that_need_none(name: str) -> None:
    k = kernels.get(name)
    deps = dependences(k)
    plain = schedule(k, deps, from_dict({"base": "cpu_vectorize"}))
    rev = schedule(k, deps, from_dict(REV))
    assert [(lv.coef, lv.const) for lv in plain.levels] == [(lv.coef, lv.const) for lv in rev.levels]


def test_ludcmp_back_substitution_schedules_without_fallback() -> None:
    k = kernels.get("ludcmp")
    deps = dependences(k)
    assert schedule(k, deps, from_dict({"base": "cpu_vectorize"})).fallback
    res = schedule(k, deps, from_dict(REV))
    assert not res.fallback
    assert not check_schedule(to_tree(res).get_map(), deps.all)
    s9 = [lv.coef["S9"] for lv in res.levels if lv.kind == "band" and any(lv.coef["S9"])]
    assert s9 == [[-1]]  # `for (i = N-1; i >= 0; i--)`, scheduled as -i


@needs_gcc
@pytest.mark.parametrize("name", ["ludcmp", "backward"])
def test_reversed_schedules_compute_the_same_results(name: str) -> None:
    k = _backward() if name == "backward" else kernels.get(name)
    ref = build(k, "orig", "MINI")
    got = build(k, from_dict(REV, name="rev"), "MINI")
    assert ref is not None and got is not None and got.result is not None
    assert not got.result.fallback
    assert_same_results(k, "MINI", ref, got, f"{name}-rev")


def test_milp_solver_agrees_on_the_reversed_nest() -> None:
    _res, rows = _bands({**REV, "solver": "milp"}, _backward())
    assert rows == [[1, 0], [0, -1]]
