"""Unroll-and-jam of the point loops (``unroll_jam``) and dynamic tile scheduling (``omp_schedule``)."""

from __future__ import annotations

import re
import shutil

import pytest
from poly_check import assert_same_results

from akg_agents.poly import kernels
from akg_agents.poly.config import ConfigError, from_dict
from akg_agents.poly.pipeline import build

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _loop_bodies(source: str) -> list[list[str]]:
    """The statement lines of every innermost loop of the kernel function (no nested braces)."""
    kernel = source[source.index("void kernel("):]
    return [[ln.strip() for ln in body.splitlines() if ln.strip()]
            for body in re.findall(r"for \(int [^{}]*\{([^{}]*)\}", kernel)]


def test_full_groups_are_unrolled_without_guards() -> None:
    k = kernels.get("covariance")
    got = build(k, from_dict({"base": "cpu_vectorize", "unroll_jam": 4}), "LARGE")
    assert got is not None and got.post is not None and got.post.unroll_jams >= 1
    # cov[i][j] += data[k][i] * data[k][j]: the k loop is jammed into the j loop, four k per j
    jammed = [b for b in _loop_bodies(got.source) if len(b) == 4 and all(s.startswith("S5(") for s in b)]
    assert jammed, "no guard-free body of four S5 copies"
    offsets = [re.sub(r"^S5\(.*, ", "", s) for s in jammed[0]]
    assert offsets[1:] == [offsets[0].replace(")", f" + {u})") for u in (1, 2, 3)]


def test_the_jammed_loop_stays_the_vector_loop() -> None:
    got = build(kernels.get("gemm"), from_dict({"base": "cpu_vectorize", "unroll_jam": 4}), "LARGE")
    assert got is not None
    lines = [ln.strip() for ln in got.source.splitlines()]
    # the loop right above the four jammed copies carries the omp simd mark
    first = next(i for i, ln in enumerate(lines) if ln.startswith("S1(") and lines[i + 3].startswith("S1(")
                 and all(x.startswith("S1(") for x in lines[i:i + 4]))
    assert lines[first - 1].startswith("for (") and lines[first - 2] == "#pragma omp simd"


def test_unroll_jam_off_leaves_the_point_loops() -> None:
    got = build(kernels.get("covariance"), from_dict({"base": "cpu_vectorize"}), "LARGE")
    assert got is not None and got.post is not None and got.post.unroll_jams == 0
    # one S5 per innermost body: no copies
    assert max(sum(s.startswith("S5(") for s in b) for b in _loop_bodies(got.source)) == 1


def test_dynamic_schedule_goes_on_tile_loops_only() -> None:
    k = kernels.get("covariance")
    got = build(k, from_dict({"base": "cpu_vectorize", "omp_schedule": "dynamic"}), "LARGE")
    assert got is not None
    pragmas = [ln.strip() for ln in got.source.splitlines() if "omp parallel for" in ln]
    tiled = [p for p in pragmas if "schedule(dynamic)" in p]
    assert tiled and all(p == "#pragma omp parallel for schedule(dynamic)" for p in tiled)
    # the untiled one-dimensional loops (the means) keep the static schedule
    assert "#pragma omp parallel for simd" in pragmas
    static = build(k, from_dict({"base": "cpu_vectorize"}), "LARGE")
    assert static is not None and "schedule(" not in static.source


@pytest.mark.parametrize("name", ["syrk", "lu"])
def test_triangular_point_bands_are_left_alone(name: str) -> None:
    """Full groups of a triangular band are no convex set, isl would isolate nothing and every
    copy would keep its guard inside the vector loop: the band keeps its loops."""
    k = kernels.get(name)
    plain = build(k, from_dict({"base": "cpu_vectorize"}), "LARGE")
    jammed = build(k, from_dict({"base": "cpu_vectorize", "unroll_jam": 8}), "LARGE")
    assert plain is not None and jammed is not None and jammed.post is not None
    assert jammed.post.unroll_jams == 0 and jammed.source == plain.source


def test_wavefronts_keep_the_static_schedule() -> None:
    """Tile wavefronts (seidel-2d) run one parallel region per front: no dynamic schedule there."""
    got = build(kernels.get("seidel-2d"), from_dict({"base": "cpu_vectorize", "omp_schedule": "dynamic"}),
                "LARGE")
    assert got is not None and got.post is not None and got.post.wavefronts >= 1
    assert "#pragma omp parallel for" in got.source and "schedule(" not in got.source


@pytest.mark.parametrize("bad", [{"unroll_jam": -1}, {"unroll_jam": "8"}, {"unroll_jam": 17}, {"unroll_jam": True},
                                 {"omp_schedule": "guided"}])
def test_bad_values_are_config_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        from_dict({"base": "cpu_vectorize", **bad})


@needs_gcc
@pytest.mark.parametrize("name", ["covariance", "correlation", "gemm", "trmm", "2mm", "3mm"])
def test_unroll_jam_computes_the_same_results(name: str) -> None:
    """Factor 3 does not divide the tile size 8: every tile has a remainder group, all checked
    against the original (trmm: its rectangular band is unrolled, its triangular one is not)."""
    k = kernels.get(name)
    ref = build(k, "orig", "SMALL")
    cfg = from_dict({"base": "cpu_vectorize", "unroll_jam": 3, "tile_sizes": [8],
                     "omp_schedule": "dynamic", "min_parallel_work": 0}, name="uj")
    got = build(k, cfg, "SMALL")
    assert ref is not None and got is not None and got.post is not None and got.post.unroll_jams >= 1
    assert_same_results(k, "SMALL", ref, got, f"{name}-uj")
