"""Scheduler, post-passes and code generation (compiled and checked at MINI)."""

from __future__ import annotations

import shutil

import pytest

from akg_agents.poly import kernels
from akg_agents.poly.config import SchedConfig, from_dict, preset
from akg_agents.poly.deps import check_schedule
from akg_agents.poly.pipeline import build, dependences
from akg_agents.poly.runner import build_dir, compare, compile_c, run_once
from akg_agents.poly.scheduler import schedule
from akg_agents.poly.tree import to_tree

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _run_and_compare(name: str, variant, threads: int = 2) -> tuple[bool, str]:  # type: ignore[no-untyped-def]
    k = kernels.get(name)
    ref = build(k, "orig", "MINI")
    got = build(k, variant, "MINI")
    assert ref is not None and got is not None
    r_exe = compile_c(ref.source, "gcc", f"t-{name}-orig")
    g_exe = compile_c(got.source, got.compiler, f"t-{name}-var")
    r_bin, g_bin = build_dir() / f"{name}-r.bin", build_dir() / f"{name}-g.bin"
    run_once(r_exe, 1, r_bin)
    run_once(g_exe, threads, g_bin)
    ok, _, _bad = compare(k, "MINI", r_bin, g_bin)
    return ok, got.source


@needs_gcc
def test_gemm_pluto_like_is_tiled_parallel_and_correct() -> None:
    k = kernels.get("gemm")
    b = build(k, "pluto_like", "MINI")
    assert b is not None and b.post is not None
    assert 3 in b.post.tiled_bands  # the (i, j, k) band is tiled
    assert b.pragmas >= 1 and "#pragma omp parallel for" in b.source
    assert "+= 32" in b.source  # tile loops step by the tile size
    ok, _ = _run_and_compare("gemm", "pluto_like")
    assert ok


@needs_gcc
def test_config_forbidding_parallelism_emits_no_pragma() -> None:
    cfg = from_dict({"base": "cpu_vectorize", "parallel": False, "simd": False}, name="serial")
    ok, src = _run_and_compare("gemm", cfg)
    kernel_fn = src.split("void kernel(")[1].split("int main(")[0]  # main warms up OpenMP's pool
    assert ok and "#pragma omp" not in kernel_fn


@needs_gcc
def test_serial_directive_blocks_parallel_loop() -> None:
    cfg = from_dict({"base": "isl_like", "tile": False, "min_parallel_work": 1,
                     "directives": {"S0": {"serial": ["i"]}, "S1": {"serial": ["i"]}}})
    b = build(kernels.get("gemm"), cfg, "MINI")
    assert b is not None
    lines = b.source.splitlines()
    marked = [lines[n + 1] for n, ln in enumerate(lines) if "#pragma omp parallel for" in ln]
    # i (the _c0 loop) is the natural outer parallel loop; with i serial, j is marked instead
    assert marked and all("for (int _c0" not in ln for ln in marked)
    ok, _ = _run_and_compare("gemm", cfg)
    assert ok


@needs_gcc
@pytest.mark.parametrize("name", ["gemm", "2mm", "jacobi-2d", "seidel-2d", "lu", "atax"])
@pytest.mark.parametrize("variant", ["isl", "pluto_like", "cpu_vectorize", "feautrier_like"])
def test_core_kernels_correct_at_mini(name: str, variant: str) -> None:
    ok, _ = _run_and_compare(name, variant)
    assert ok, f"{name}/{variant} differs from the original order"


def test_seidel_pluto_like_skews_and_wavefronts() -> None:
    k = kernels.get("seidel-2d")
    res = schedule(k, dependences(k), preset("pluto_like"))
    exprs = [res.expr("S0", lv) for lv in res.levels]
    assert exprs[0] == "t" and any("t" in e and "i" in e for e in exprs[1:])  # skewed band
    # LARGE: the work-per-parallel-region estimate uses the real sizes (no compile here)
    b = build(k, "pluto_like", "LARGE")
    assert b is not None and b.post is not None and b.post.wavefronts == 1 and b.pragmas == 1


def test_every_kernel_schedule_is_valid_under_pluto_like() -> None:
    for name in kernels.names():
        if name in ("deriche", "adi", "heat-3d"):
            continue  # the slowest to schedule; covered by the MINI bench
        k = kernels.get(name)
        deps = dependences(k)
        res = schedule(k, deps, preset("pluto_like"))
        assert check_schedule(to_tree(res).get_map(), deps.all) == [], name


def test_milp_solver_matches_isl_on_gemm_and_jacobi() -> None:
    for name in ("gemm", "jacobi-1d"):
        k = kernels.get(name)
        deps = dependences(k)
        a = schedule(k, deps, preset("pluto_like"))
        cfg = preset("pluto_like")
        cfg.solver = "milp"
        b = schedule(k, deps, cfg)
        assert check_schedule(b.union_map(), deps.all) == []
        assert len(a.levels) == len(b.levels)


def test_no_fuse_distributes_and_max_fuse_fuses() -> None:
    k = kernels.get("2mm")
    deps = dependences(k)
    nofuse = schedule(k, deps, from_dict({"base": "pluto_like", "fusion": "no"}))
    assert nofuse.levels[0].kind == "scalar" and len(set(nofuse.levels[0].const.values())) == 4
    maxfuse = schedule(k, deps, from_dict({"base": "pluto_like", "fusion": "max"}))
    assert maxfuse.levels[0].kind == "band"


def test_feautrier_carries_time_outer_and_parallel_inner() -> None:
    k = kernels.get("jacobi-2d")
    b = build(k, "feautrier_like", "LARGE")
    assert b is not None and b.result is not None
    assert "t" in b.result.expr("S0", b.result.levels[0])
    assert "#pragma omp parallel for" in b.source and b.post is not None and not b.post.tiled_bands


def test_stride1_reorder_puts_contiguous_loop_innermost() -> None:
    b = build(kernels.get("gemm"), "cpu_vectorize", "MINI")
    assert b is not None and b.post is not None and b.post.reordered >= 1
    # innermost statement call for S1 varies j (third argument) fastest
    line = next(ln for ln in b.source.splitlines() if ln.strip().startswith("S1("))
    innermost = [ln for ln in b.source.splitlines() if "for (int _c5" in ln]
    assert innermost and "_c5" in line.split(",")[2]


def test_scheduling_is_fast() -> None:
    k = kernels.get("3mm")
    res = schedule(k, dependences(k), preset("pluto_like"))
    assert res.seconds < 2.0


def test_config_validation() -> None:
    from akg_agents.poly.config import ConfigError

    with pytest.raises(ConfigError):
        from_dict({"objectives": ["fastest"]})
    with pytest.raises(ConfigError):
        from_dict({"fusion": "some"})
    with pytest.raises(ConfigError):
        from_dict({"nonsense": 1})
    cfg = from_dict({"base": "pluto_like", "tile_sizes": 64, "dim_objectives": {"0": ["parallel"]}})
    assert cfg.tile_size(2) == 64 and cfg.objectives_for(0) == ["parallel"]
    assert isinstance(SchedConfig().validate(), SchedConfig)
