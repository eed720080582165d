"""Selection by measurement on one size, reported on another (`poly bench --select-on`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from akg_agents.cli.poly import poly_app
from akg_agents.poly.select import select_kernel

runner = CliRunner()
needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def test_selecting_on_the_reported_size_is_refused(tmp_path: Path) -> None:
    res = runner.invoke(poly_app, ["bench", "--kernels", "gemm", "--size", "MINI", "--select-on", "MINI",
                                   "--out", str(tmp_path / "b.jsonl")])
    assert res.exit_code == 2 and "another size" in res.output and "Traceback" not in res.output


def test_selected_variant_needs_a_selection_size(tmp_path: Path) -> None:
    res = runner.invoke(poly_app, ["bench", "--kernels", "gemm", "--variants", "selected",
                                   "--out", str(tmp_path / "b.jsonl")])
    assert res.exit_code == 2 and "--select-on" in res.output


@needs_gcc
def test_the_winner_is_a_checked_and_timed_candidate() -> None:
    # select_kernel records "wrong" / "error: ..." / "pruned: ..." for the losers; a winner must
    # have been compared with the original order and timed (a float in the log)
    space = {"pluto_like": {"base": "pluto_like"}, "isl_notile": {"base": "isl_like", "tile": False}}
    best, cfg, results = select_kernel("jacobi-1d", "MINI", 2, lambda _line: None, space)
    assert best in space and cfg == space[best]
    assert isinstance(results[best], float)


@needs_gcc
def test_bench_selects_on_one_size_and_reports_another(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import akg_agents.poly.select as select

    monkeypatch.setattr(select, "SEARCH_SPACE", {"vec": {"base": "cpu_vectorize"}, "pluto": {"base": "pluto_like"}})
    out = tmp_path / "b.jsonl"
    res = runner.invoke(poly_app, ["bench", "--kernels", "atax", "--size", "SMALL", "--select-on", "MINI",
                                   "--variants", "orig,selected", "--threads", "2", "--runs", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    table = yaml.safe_load((tmp_path / "selected.yaml").read_text())["kernels"]
    assert "(MINI, 2 threads)" in table["atax"]["note"]
    records = [json.loads(line) for line in out.read_text().splitlines()]
    chosen = [r for r in records if r["variant"] == "selected"]
    assert len(chosen) == 1 and chosen[0]["size"] == "SMALL" and chosen[0]["status"] == "ok"


@needs_gcc
def test_a_configuration_that_emits_the_same_program_is_not_timed_again() -> None:
    # privatize has nothing to privatise in gemm: the same C as cpu_vectorize, compiled and timed once
    space = {"vec": {"base": "cpu_vectorize"}, "vec_priv": {"base": "cpu_vectorize", "privatize": True}}
    best, _cfg, results = select_kernel("gemm", "MINI", 2, lambda _line: None, space)
    assert best == "vec" and isinstance(results["vec"], float)
    assert results["vec_priv"] == "same code as vec"


def test_a_kernel_is_cache_blind_only_when_the_small_size_fits_and_the_reported_one_does_not() -> None:
    from akg_agents.poly import kernels
    from akg_agents.poly.select import cache_blind, footprint_bytes
    from akg_agents.poly.tilemodel import CacheSizes

    gemm = kernels.get("gemm")
    l2 = CacheSizes(l1=32 << 10, l2=1 << 20)
    assert footprint_bytes(gemm, "MEDIUM") <= 2 * l2.l2 < footprint_bytes(gemm, "LARGE")
    assert cache_blind(gemm, "MEDIUM", "LARGE", 2, l2)
    assert not cache_blind(gemm, "MEDIUM", None, 2, l2)
    assert not cache_blind(gemm, "LARGE", "EXTRALARGE", 2, l2)  # both leave the cache: timings see it


def test_locality_sees_an_untiled_schedule_walk_across_rows() -> None:
    # adi's feautrier_like schedule puts the row index innermost in its sweeps; the stencils'
    # feautrier_like schedules stream rows (the last subscript innermost)
    from akg_agents.poly import kernels
    from akg_agents.poly.config import from_dict
    from akg_agents.poly.locality import strided_accesses
    from akg_agents.poly.pipeline import build

    feautrier = from_dict({"base": "feautrier_like"}, name="f")
    adi = build(kernels.get("adi"), feautrier, "MINI")
    jacobi = build(kernels.get("jacobi-2d"), feautrier, "MINI")
    assert adi is not None and jacobi is not None
    assert strided_accesses(kernels.get("adi"), adi.tree) > 0
    assert strided_accesses(kernels.get("jacobi-2d"), jacobi.tree) == 0
    # the original order of gemm walks B[k][j] with j innermost: nothing crosses rows
    assert strided_accesses(kernels.get("gemm"), None) == 0


@needs_gcc
def test_an_untiled_row_crossing_schedule_is_left_out_when_the_selection_size_hides_the_cache(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import akg_agents.poly.select as select
    from akg_agents.poly.tilemodel import CacheSizes

    monkeypatch.setattr(select, "detect_caches", lambda: CacheSizes(l1=32 << 10, l2=1 << 20))
    space = {"notile": {"base": "cpu_vectorize", "fusion": "no", "tile": False},
             "vec": {"base": "cpu_vectorize", "fusion": "no"}}
    best, _cfg, results = select_kernel("bicg", "MINI", 2, lambda _line: None, space, report_size="LARGE")
    assert str(results["notile"]).startswith("left out: untiled") and best == "vec"
    # without a reported size the same candidate is measured
    _best, _cfg, results = select_kernel("bicg", "MINI", 2, lambda _line: None, space)
    assert isinstance(results["notile"], float)


@needs_gcc
def test_the_rule_steps_aside_when_it_would_leave_out_every_configuration(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # ludcmp in session 8's protocol: no configuration tiled it and each crossed rows, so the
    # rule left all out and the unmeasured default was taken; now the measurement decides
    import akg_agents.poly.select as select
    from akg_agents.poly.tilemodel import CacheSizes

    monkeypatch.setattr(select, "detect_caches", lambda: CacheSizes(l1=32 << 10, l2=1 << 20))
    space = {"notile": {"base": "cpu_vectorize", "fusion": "no", "tile": False},
             "isl_notile": {"base": "isl_like", "tile": False}}
    lines: list[str] = []
    best, _cfg, results = select_kernel("bicg", "MINI", 2, lines.append, space, report_size="LARGE")
    assert any("every configuration would be left out" in line for line in lines)
    assert best in space and isinstance(results[best], float)
