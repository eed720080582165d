"""A tile band whose outer tile loop carries dependences gets its parallel tile loop moved outermost
(``outer_parallel``): gramschmidt's ``R[k][j] += Q[i][k] * A[i][j]`` is scheduled with i outer, and
its parallel j loop, one region per i tile, fell below ``min_parallel_work`` and ran on one thread."""

from __future__ import annotations

import shutil

import pytest
from poly_check import assert_same_results

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.pipeline import build

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _loop_above(source: str, statement: str) -> list[str]:
    """The lines from the last `omp parallel for` above the first line using `statement` to it."""
    lines = [ln.strip() for ln in source[source.index("void kernel("):].splitlines()]
    first = next(i for i, ln in enumerate(lines) if ln.startswith(statement + "("))
    start = max(i for i in range(first) if lines[i].startswith("#pragma omp parallel for") or lines[i].startswith("S4("))
    return lines[start:first]


def test_the_reduction_nest_gets_a_parallel_tile_loop() -> None:
    k = kernels.get("gramschmidt")
    on = build(k, from_dict({"base": "cpu_vectorize"}), "LARGE")
    off = build(k, from_dict({"base": "cpu_vectorize", "outer_parallel": False}), "LARGE")
    assert on is not None and off is not None and on.post is not None and off.post is not None
    assert on.post.outer_parallel == 1 and off.post.outer_parallel == 0
    # with it, S5's nest opens with a parallel loop over j tiles; without, nothing above S5 but the
    # untiled S4 (R[k][j] = 0) runs parallel
    assert _loop_above(on.source, "S5")[0] == "#pragma omp parallel for"
    assert not any("omp parallel" in ln for ln in _loop_above(off.source, "S5"))
    assert on.source.count("#pragma omp parallel for") == off.source.count("#pragma omp parallel for") + 1


def test_a_band_with_an_outer_parallel_tile_loop_is_left_alone() -> None:
    """gemm's tile band already starts with a parallel loop: the code is the same either way."""
    k = kernels.get("gemm")
    on = build(k, from_dict({"base": "cpu_vectorize"}), "LARGE")
    off = build(k, from_dict({"base": "cpu_vectorize", "outer_parallel": False}), "LARGE")
    assert on is not None and off is not None and on.post is not None
    assert on.post.outer_parallel == 0 and on.source == off.source


@needs_gcc
@pytest.mark.parametrize("unroll", [0, 3])
def test_gramschmidt_with_the_parallel_tile_loop_outermost_computes_the_same(unroll: int) -> None:
    k = kernels.get("gramschmidt")
    ref = build(k, "orig", "SMALL")
    cfg = from_dict({"base": "cpu_vectorize", "tile_sizes": [8], "unroll_jam": unroll, "min_parallel_work": 0},
                    name="outer")
    got = build(k, cfg, "SMALL")
    assert ref is not None and got is not None and got.post is not None and got.post.outer_parallel >= 1
    assert_same_results(k, "SMALL", ref, got, f"gramschmidt-outer-{unroll}")


@pytest.mark.parametrize(("dep", "parallel"), [("S[i, j] -> S[i + 1, j]", True),
                                                ("S[i, j] -> S[i + 1, j + 1]", False)])
def test_the_move_is_checked_against_the_dependences_not_the_flag(dep: str, parallel: bool) -> None:
    """A distance (1, 1) leaves j flagged coincident inside the band (i carries it), but j
    outermost would carry it: only the exact check tells the two apart."""
    import islpy as isl

    from akg_agents.poly.post import _parallel_outermost

    domain = isl.UnionSet("[N] -> { S[i, j] : 0 <= i < N and 0 <= j < N }")
    band = isl.MultiUnionPwAff("[N] -> [{ S[i, j] -> [(i)] }, { S[i, j] -> [(j)] }]")
    node = isl.Schedule.from_domain(domain).get_root().child(0).insert_partial_schedule(band)
    node = node.band_set_permutable(1).band_member_set_coincident(1, 1)
    deps = isl.UnionMap(f"[N] -> {{ {dep} : 0 <= i < N - 1 and 0 <= j < N - 1 }}")
    assert _parallel_outermost(node, 1, deps) is parallel
