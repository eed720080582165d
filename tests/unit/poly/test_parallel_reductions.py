"""Parallel reductions (post.reduction_clause): a loop whose only carried conflicts are sum
updates runs as ``omp parallel for reduction(+: ...)``; compiled and compared with the original."""

from __future__ import annotations

import shutil

import pytest

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build
from akg_agents.poly.runner import build_dir, compare, compile_c, run_once

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
# original loop order kept outer (proximity ties), no tiling, every parallel loop marked
CFG = {"base": "pluto_like", "tile": False, "wavefront": False, "parallel_reductions": True,
       "min_parallel_work": 0}


def _nest(body: str, extra: str | None = None) -> Kernel:
    """for i, j: body (y[0] over both loops: neither loop is parallel without a reduction)."""
    k = Kernel("red", ["N"], {"MINI": {"N": 37}}, "test")
    k.array("A", ["N", "N"]); k.array("x", ["N"]); k.array("y", ["N"])  # noqa: E702
    with k.loop("i", 0, "N"), k.loop("j", 0, "N"):
        k.stmt(body)
        if extra:
            k.stmt(extra)
    return k


def _same_as_original(k: Kernel, cfg: dict, tag: str) -> str:  # type: ignore[type-arg]
    ref = build(k, "orig", "MINI")
    got = build(k, from_dict(cfg), "MINI")
    assert ref is not None and got is not None
    r_bin, g_bin = build_dir() / f"pred-{tag}-r.bin", build_dir() / f"pred-{tag}-g.bin"
    run_once(compile_c(ref.source, "gcc", f"pred-{tag}-orig"), 1, r_bin)
    run_once(compile_c(got.source, "gcc", f"pred-{tag}-var"), 2, g_bin)
    ok, err, bad = compare(k, "MINI", r_bin, g_bin)
    assert ok, f"{tag}: {bad} differs (max rel err {err})"
    return got.source


@needs_gcc
@pytest.mark.parametrize(("body", "clause"), [
    ("y[0] = y[0] + A[i][j] * x[j]", "reduction(+: y[0:N])"),
    ("y[j] -= A[i][j] * x[i]", "reduction(+: y[0:N])"),  # atax's second product, i outer
])
def test_sum_reduction_loop_runs_parallel_and_matches(body: str, clause: str) -> None:
    src = _same_as_original(_nest(body), CFG, f"sum{len(body)}")
    assert f"#pragma omp parallel for {clause}" in src


@needs_gcc
@pytest.mark.parametrize("body", [
    "y[0] = y[0] * A[i][j]",  # a product: not a sum
    "y[0] = y[0] + A[i][j] * y[1]",  # the increment reads the target array
])
def test_non_sums_stay_sequential(body: str) -> None:
    src = _same_as_original(_nest(body), CFG, f"nosum{len(body)}")
    kernel_fn = src.split("void kernel(")[1].split("int main(")[0]  # main warms up OpenMP's pool
    assert "reduction(" not in kernel_fn and "omp parallel" not in kernel_fn


def test_another_reader_of_the_target_blocks_the_reduction() -> None:
    # x[j] = y[0] reads the running sum mid-loop: private partial sums would change it
    alone = build(_nest("y[0] = y[0] + A[i][j]"), from_dict(CFG), "MINI")
    read = build(_nest("y[0] = y[0] + A[i][j]", "x[j] = y[0]"), from_dict(CFG), "MINI")
    assert alone is not None and "reduction(+: y[0:N])" in alone.source
    assert read is not None and "reduction(" not in read.source


def test_off_by_default_and_in_the_tool_like_presets() -> None:
    k = _nest("y[0] = y[0] + A[i][j] * x[j]")
    for cfg in ({**CFG, "parallel_reductions": False}, {"base": "pluto_like"}, {"base": "isl_like"}):
        got = build(k, from_dict(cfg), "MINI")
        assert got is not None and "reduction(" not in got.source


@needs_gcc
def test_atax_gets_an_outer_reduction_under_cpu_vectorize() -> None:
    k = kernels.get("atax")
    got = build(k, from_dict({"base": "cpu_vectorize", "parallel_reductions": True}), "LARGE")
    assert got is not None and got.post is not None
    assert got.post.reduction_marks == ["reduction(+: y[0:N])"]
    plain = build(k, "cpu_vectorize", "LARGE")  # off in the presets (measured slower here)
    assert plain is not None and "reduction(" not in plain.source
    _same_as_original(k, {"base": "cpu_vectorize", "parallel_reductions": True, "min_parallel_work": 0}, "atax")
