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
