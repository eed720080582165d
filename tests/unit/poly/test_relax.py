"""Reduction relaxation (relax.py): reduction loops in any order, every other order kept."""

from __future__ import annotations

import shutil

import islpy as isl
import pytest

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.deps import check_schedule, compute_dependences
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build
from akg_agents.poly.relax import reduction_chains, relax_reductions
from akg_agents.poly.runner import build_dir, compare, compile_c, run_once
from akg_agents.poly.scheduler import schedule
from akg_agents.poly.tree import to_tree


def _conv(hint: str | None = "reduce") -> Kernel:
    """out = bias; out += x * w over (c, r); out = out * 2: a 1-D convolution with two reduction loops."""
    k = Kernel("conv1d", [], {"TASK": {}})
    k.context_min = 0
    k.array("X", ["4", "10"], output=False)
    k.array("W", ["3", "4", "3"], output=False)
    k.array("O", ["3", "8"])
    with k.loop("o", 0, 3), k.loop("p", 0, 8):
        k.stmt("O[o][p] = 0.5")
    with k.loop("o", 0, 3), k.loop("p", 0, 8), k.loop("c", 0, 4, hint=hint), k.loop("r", 0, 3, hint=hint):
        k.stmt("O[o][p] += X[c][p + r] * W[o][c][r]")
    with k.loop("o", 0, 3), k.loop("p", 0, 8):
        k.stmt("O[o][p] = O[o][p] * 2.0")
    return k


def test_only_hinted_update_chains_are_relaxed() -> None:
    assert [st.name for st in reduction_chains(_conv())] == ["S1"]
    assert reduction_chains(_conv(hint=None)) == []  # an unhinted loop might be made parallel


def test_the_chain_is_dropped_and_init_and_consumer_order_every_update() -> None:
    k = _conv()
    relaxed = relax_reductions(k, compute_dependences(k))
    updates = k.domain_of(k.stmt_by_name("S1"))
    maps: list[isl.Map] = []
    relaxed.all.foreach_map(maps.append)
    assert not any(m.get_tuple_name(isl.dim_type.in_) == m.get_tuple_name(isl.dim_type.out) == "S1" for m in maps)
    init_to_update = [m for m in maps if m.get_tuple_name(isl.dim_type.in_) == "S0"
                      and m.get_tuple_name(isl.dim_type.out) == "S1"]
    update_to_consumer = [m for m in maps if m.get_tuple_name(isl.dim_type.in_) == "S1"
                          and m.get_tuple_name(isl.dim_type.out) == "S2"]
    reached = isl.Set.empty(updates.get_space())
    for m in init_to_update:
        reached = reached.union(m.range())
    assert reached.is_equal(updates)  # the init precedes all 3*8*4*3 updates, not just the first
    left = isl.Set.empty(updates.get_space())
    for m in update_to_consumer:
        left = left.union(m.domain())
    assert left.is_equal(updates)  # and the consumer follows all of them


def test_relaxed_schedule_keeps_the_reduction_loops_unskewed() -> None:
    k = _conv()
    relaxed = relax_reductions(k, compute_dependences(k))
    cfg = from_dict({"base": "cpu_vectorize", "relax_reductions": True})
    res = schedule(k, relaxed, cfg)
    assert check_schedule(to_tree(res).get_map(), relaxed.all) == []
    rows = [lv.coef["S1"] for lv in res.levels if lv.kind == "band" and any(lv.coef.get("S1", []))]
    assert all(sorted(abs(c) for c in row) == [0, 0, 0, 1] for row in rows)  # each row one loop


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
def test_gemm_relaxed_is_correct_at_mini() -> None:
    k = kernels.get("gemm")
    cfg = from_dict({"base": "cpu_vectorize", "relax_reductions": True}, name="relax")
    got, ref = build(k, cfg, "MINI"), build(k, "orig", "MINI")
    assert got is not None and ref is not None
    g_exe, r_exe = compile_c(got.source, "gcc", "rx-gemm"), compile_c(ref.source, "gcc", "rx-gemm-orig")
    g_bin, r_bin = build_dir() / "rx-g.bin", build_dir() / "rx-r.bin"
    run_once(r_exe, 1, r_bin)
    run_once(g_exe, 2, g_bin)
    ok, _err, bad = compare(k, "MINI", r_bin, g_bin)
    assert ok, bad
