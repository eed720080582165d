"""Pluto as a `poly bench` baseline: found only when given, checked like every variant."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from akg_agents.cli.poly import poly_app
from akg_agents.poly import kernels
from akg_agents.poly.pluto import ENV, check_polycc, polycc_path, scop_source

runner = CliRunner()
SHARED = Path(__file__).resolve().parents[4] / "shared" / "tools" / "pluto"


def _pluto_runs() -> bool:
    return (SHARED / "polycc").exists() and check_polycc(SHARED / "polycc") is None


def test_polycc_comes_from_the_option_or_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    assert polycc_path(None) is None
    assert polycc_path(tmp_path) == tmp_path / "polycc"  # a folder holding polycc
    monkeypatch.setenv(ENV, str(tmp_path / "bin" / "polycc"))
    assert polycc_path(None) == tmp_path / "bin" / "polycc"
    assert polycc_path(tmp_path / "x") == tmp_path / "x"  # the option wins
    monkeypatch.chdir(tmp_path)
    assert polycc_path("bin") == tmp_path / "bin"  # made absolute: polycc runs in another folder


def test_a_missing_polycc_is_named(tmp_path: Path) -> None:
    assert "not an executable polycc" in str(check_polycc(tmp_path / "polycc"))


def test_scop_marks_the_original_nest() -> None:
    src = scop_source(kernels.get("gemm"), "MINI")
    start = src.index("#pragma scop\n")
    assert src.startswith("#pragma scop\n  for (int i = 0; i < NI; i++)", start)
    assert src.index("C[i][j] += alpha", start) < src.index("#pragma endscop")


def test_asking_for_pluto_without_a_path_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    res = runner.invoke(poly_app, ["bench", "--kernels", "gemm", "--variants", "orig,pluto",
                                   "--out", str(tmp_path / "b.jsonl")])
    assert res.exit_code == 2 and "--pluto" in res.output and "Traceback" not in res.output


@pytest.mark.skipif(shutil.which("gcc") is None or not _pluto_runs(), reason="Pluto (../shared/tools/pluto) not runnable here")
def test_pluto_variant_is_checked_against_the_original(tmp_path: Path) -> None:
    out = tmp_path / "b.jsonl"
    res = runner.invoke(poly_app, ["bench", "--kernels", "gemm,jacobi-1d", "--size", "MINI", "--variants", "orig,pluto",
                                   "--threads", "2", "--runs", "1", "--pluto", str(SHARED), "--out", str(out)])
    assert res.exit_code == 0, res.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    pluto = [r for r in records if r["variant"] == "pluto"]
    assert [r["status"] for r in pluto] == ["ok", "ok"] and all(r["max_rel_err"] is not None for r in pluto)
    assert all(r["sched_s"] > 0 for r in pluto)  # polycc's own time, reported like a scheduling time
