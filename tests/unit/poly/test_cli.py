"""The ``poly`` typer sub-app: explain output and clean failures."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from akg_agents.cli.poly import poly_app

runner = CliRunner()


def test_explain_prints_dependences_and_per_dimension_choices() -> None:
    res = runner.invoke(poly_app, ["explain", "gemm", "--preset", "pluto_like"])
    assert res.exit_code == 0, res.output
    assert "dependences" in res.output and "flow" in res.output
    assert "dim 1 (band 0): ILP [proximity, min_coef]" in res.output
    assert "post-pass: tiled bands" in res.output


def test_explain_unknown_kernel_is_one_line_exit_2() -> None:
    res = runner.invoke(poly_app, ["explain", "nosuchkernel"])
    assert res.exit_code == 2
    assert "unknown kernel" in res.output and "Traceback" not in res.output


def test_explain_malformed_yaml_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("objectives: [parallel\n  fusion: : :\n")
    res = runner.invoke(poly_app, ["explain", "gemm", "--config", str(bad)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("objectives: [fastest]\n")
    res = runner.invoke(poly_app, ["explain", "gemm", "--config", str(wrong)])
    assert res.exit_code == 2 and "unknown objective" in res.output


def test_explain_with_yaml_config(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("base: cpu_vectorize\ntile_sizes: [16, 64]\nfusion: max\n")
    res = runner.invoke(poly_app, ["explain", "2mm", "--config", str(cfg), "--code"])
    assert res.exit_code == 0, res.output
    assert "fusion max" in res.output and "#pragma omp" in res.output
    # --code shows the kernel function only, not the harness around it
    assert "void kernel(int NI" in res.output and "int main" not in res.output


def test_explain_reports_vectorized_reductions(tmp_path: Path) -> None:
    cfg = tmp_path / "red.yaml"
    cfg.write_text("base: cpu_vectorize\nsimd_reduction: true\n")
    res = runner.invoke(poly_app, ["explain", "atax", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "vectorized reductions 1" in res.output
    plain = runner.invoke(poly_app, ["explain", "atax", "--preset", "cpu_vectorize"])
    assert "vectorized reductions 0" in plain.output


def test_bench_rejects_bad_arguments() -> None:
    assert runner.invoke(poly_app, ["bench", "--kernels", "nope"]).exit_code == 2
    assert runner.invoke(poly_app, ["bench", "--size", "HUGE"]).exit_code == 2
    assert runner.invoke(poly_app, ["bench", "--variants", "magic"]).exit_code == 2


def test_bench_small_run_writes_results(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    res = runner.invoke(poly_app, ["bench", "--kernels", "atax", "--variants", "orig,isl,cpu_vectorize",
                                   "--threads", "2", "--runs", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all('"status": "ok"' in ln for ln in lines)
    # resume: nothing is re-run
    res = runner.invoke(poly_app, ["bench", "--kernels", "atax", "--variants", "orig,isl,cpu_vectorize",
                                   "--threads", "2", "--runs", "1", "--out", str(out)])
    assert len(out.read_text().splitlines()) == 3
