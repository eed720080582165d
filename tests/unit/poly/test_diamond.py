"""Diamond tiling (concurrent start) of time-iterated stencils (config key ``diamond``)."""

from __future__ import annotations

import shutil

import islpy as isl
import pytest
from poly_check import assert_same_results

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.deps import check_schedule
from akg_agents.poly.pipeline import build, dependences
from akg_agents.poly.scheduler import ScheduleResult, schedule
from akg_agents.poly.tree import to_tree

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")

DIA = {"base": "cpu_vectorize", "diamond": True}
TILE = 8


def _first_band(res: ScheduleResult) -> list[int]:
    band = next(lv.band for lv in res.levels if lv.kind == "band")
    return [i for i, lv in enumerate(res.levels) if lv.kind == "band" and lv.band == band]


def _first_front(res: ScheduleResult, size: str) -> int:
    """Tiles (of TILE x TILE over the first band's two rows) on the first front of the tile
    wavefront T0 + T1 that the post-pass builds: 1 for a pipelined start."""
    k = res.kernel
    r0, r1 = _first_band(res)[:2]
    tiles = None
    for st in k.statements:
        a = res.expr(st.name, res.levels[r0])
        b = res.expr(st.name, res.levels[r1])
        m = isl.Map(f"{k.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] -> "
                    f"[floor(({a})/{TILE}) + floor(({b})/{TILE}), floor(({b})/{TILE})] }}")
        dom = k.domain_of(st)
        for i, par in enumerate(k.params):
            dom = dom.fix_val(isl.dim_type.param, i, isl.Val(k.sizes[size][par]))
        img = m.intersect_domain(dom).range().project_out(isl.dim_type.param, 0, len(k.params))
        tiles = img if tiles is None else tiles.union(img)
    assert tiles is not None
    tiles = tiles.coalesce()
    front = tiles.lexmin().dim_min_val(0)
    first = tiles.fix_val(isl.dim_type.set, 0, front)
    return int(first.count_val().to_python())


@pytest.mark.parametrize("name", ["jacobi-1d", "jacobi-2d", "heat-3d", "fdtd-2d"])
def test_diamond_gives_stencils_a_concurrent_start(name: str) -> None:
    k = kernels.get(name)
    deps = dependences(k)
    plain = schedule(k, deps, from_dict({"base": "cpu_vectorize"}))
    dia = schedule(k, deps, from_dict(DIA))
    assert not check_schedule(to_tree(dia).get_map(), deps.all)
    assert _first_front(plain, "SMALL") == 1  # pipelined start
    assert _first_front(dia, "SMALL") >= 2  # tiles start at once (heat-3d SMALL: N = 20, 2 tiles)
    first = dia.levels[_first_band(dia)[0]]
    assert any(c < 0 for row in first.coef.values() for c in row)  # the concurrent-start row


def test_jacobi_1d_diamond_rows() -> None:
    k = kernels.get("jacobi-1d")
    res = schedule(k, dependences(k), from_dict(DIA))
    rows = [lv.coef["S0"] for lv in res.levels if lv.kind == "band"]
    assert rows[:2] == [[2, -1], [2, 1]]  # (2t - i, 2t + i): Pluto's diamond


@pytest.mark.parametrize("name", ["gemm", "atax"])
def test_diamond_leaves_bands_with_a_parallel_member(name: str) -> None:
    k = kernels.get(name)
    deps = dependences(k)
    plain = schedule(k, deps, from_dict({"base": "cpu_vectorize"}))
    dia = schedule(k, deps, from_dict(DIA))
    assert [(lv.coef, lv.const) for lv in plain.levels] == [(lv.coef, lv.const) for lv in dia.levels]


@needs_gcc
@pytest.mark.parametrize("name", ["jacobi-1d", "jacobi-2d", "fdtd-2d", "seidel-2d"])
def test_diamond_schedules_compute_the_same_results(name: str) -> None:
    k = kernels.get(name)
    ref = build(k, "orig", "MINI")
    # MINI regions are small: min_parallel_work 0 lets the tile loop get its omp mark
    got = build(k, from_dict({**DIA, "min_parallel_work": 0}, name="dia"), "MINI")
    assert ref is not None and got is not None and got.post is not None
    assert got.post.wavefronts >= 1 and "#pragma omp parallel for" in got.source
    assert_same_results(k, "MINI", ref, got, f"{name}-dia")
