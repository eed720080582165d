"""Vectorized reductions (reduction.py) and the PolyBench-style harness (codegen.program)."""

from __future__ import annotations

import shutil

import pytest

from akg_agents.poly import kernels
from akg_agents.poly.config import from_dict
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build
from akg_agents.poly.reduction import is_reduction_loop, parse_reduction
from akg_agents.poly.runner import build_dir, compare, compile_c, run_once

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _one_statement(body: str, inner_lo: str = "0", inner_hi: str = "N") -> Kernel:
    k = Kernel("t", ["N"], {"MINI": {"N": 8}}, "test")
    k.array("x", ["N"]); k.array("A", ["N", "N"])  # noqa: E702
    with k.loop("i", 0, "N"), k.loop("j", inner_lo, inner_hi):
        k.stmt(body)
    return k


@pytest.mark.parametrize(("body", "op", "inc"), [
    ("x[i] += A[i][j] * x[j]", "+", "(A[i][j] * x[j])"),
    ("x[i] -= A[i][j]", "-", "(A[i][j])"),
    ("x[i] = x[i] + A[i][j] * 2.0", "+", "(A[i][j] * 2.0)"),
    # C groups x - a + b as (x - a) + b: the increment is (- a + b), not -(a + b)
    ("x[i] = x[i] - A[i][j] + 1.0", "+", "(- A[i][j] + 1.0)"),
])
def test_reduction_forms_are_parsed(body: str, op: str, inc: str) -> None:
    red = parse_reduction(_one_statement(body).statements[0])
    assert red is not None and (red.op, red.increment) == (op, inc)


@pytest.mark.parametrize("body", [
    "x[i] = x[i] * A[i][j]",  # not a sum
    "x[i] += x[i] * A[i][j]",  # the increment reads the running value
    "x[i] = A[i][j]",  # plain assignment
    "x[i] = x[i] + A[i][j] > 1.0 ? 1.0 : 0.0",  # C groups (x[i] + A[i][j]) > 1.0
])
def test_non_reductions_are_refused(body: str) -> None:
    assert parse_reduction(_one_statement(body).statements[0]) is None


def test_other_reads_of_the_target_must_be_disjoint() -> None:
    # x[j] for j < i never touches x[i] (trisolv): a reduction over j
    tri = _one_statement("x[i] -= A[i][j] * x[j]", inner_hi="i")
    assert is_reduction_loop(tri, tri.statements[0], ["j"]) is not None
    # with j over the whole range, x[j] reads x[i] itself mid-chain: not a reduction
    full = _one_statement("x[i] -= A[i][j] * x[j]")
    assert is_reduction_loop(full, full.statements[0], ["j"]) is None
    # a loop over i moves the written element: not a reduction over that loop
    assert is_reduction_loop(tri, tri.statements[0], ["i"]) is None


@needs_gcc
@pytest.mark.parametrize("name", ["atax", "cholesky", "trisolv", "durbin"])
def test_simd_reduction_is_emitted_and_matches_original(name: str) -> None:
    k = kernels.get(name)
    ref = build(k, "orig", "MINI")
    got = build(k, from_dict({"base": "cpu_vectorize", "simd_reduction": True}), "MINI")
    assert ref is not None and got is not None
    assert "#pragma omp simd reduction(+:" in got.source
    assert ") S" in got.source.split("reduction(+:", 1)[1]  # write-back guarded by "if (...)"
    r_bin, g_bin = build_dir() / f"red-{name}-r.bin", build_dir() / f"red-{name}-g.bin"
    run_once(compile_c(ref.source, "gcc", f"red-{name}-orig"), 1, r_bin)
    run_once(compile_c(got.source, "gcc", f"red-{name}-var"), 2, g_bin)
    ok, err, bad = compare(k, "MINI", r_bin, g_bin)
    assert ok, f"{name}: {bad} differs (max rel err {err})"


def test_reductions_are_off_unless_configured() -> None:
    got = build(kernels.get("atax"), "pluto_like", "MINI")
    assert got is not None and "reduction(" not in got.source


def test_harness_hides_sizes_and_array_distinctness_from_the_kernel() -> None:
    # the baseline PolyBench, Pluto and Polly are measured against: run-time bounds and
    # pointer parameters in a function compiled without seeing its caller
    src = build(kernels.get("gemm"), "orig", "MINI").source  # type: ignore[union-attr]
    assert "noipa" in src
    assert "void kernel(int NI, int NJ, int NK, double C[20][25], double A[20][30], double B[30][25])" in src
    assert "static double C" not in src and "#define NI" not in src
