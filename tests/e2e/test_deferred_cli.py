"""`akg_cli op/bench --defer DIR`, `akg_cli evaluate DIR`, `akg_cli resume` as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TASK = ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py"
PARKED = 75
ENV = {"AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "3", "AKG_AGENTS_PROFILE_SETTINGS__WARMUP_TIMES": "1"}


def _until_done(cli, bundles: Path, resume_args: list[str]) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    """Evaluate the bundles, resume; again while the run parks. (last resume, rounds)"""
    for rounds in range(1, 8):
        evaluated = cli("evaluate", str(bundles), env=ENV)
        assert evaluated.returncode == 0, evaluated.stdout + evaluated.stderr
        resumed = cli(*resume_args, env=ENV)
        if resumed.returncode != PARKED:
            return resumed, rounds
    raise AssertionError("the run never finished")


def test_op_defer_evaluate_resume(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bundles = tmp_path / "bundles"
    parked = cli("op", "--task", str(TASK), "--model", "builtin", "--max-candidates", "2", "--defer", str(bundles),
                 "-o", str(tmp_path / "runs"), env=ENV)
    assert parked.returncode == PARKED, parked.stdout + parked.stderr
    assert "Traceback" not in parked.stderr and f"akg_cli evaluate {bundles.resolve()}" in parked.stdout
    run_dir = next(p for p in (tmp_path / "runs").iterdir() if p.name != "kernels")  # kernels/: the kernel database
    assert f"akg_cli resume {run_dir}" in parked.stdout.replace("\n", " ") or "akg_cli resume" in parked.stdout
    final, _ = _until_done(cli, bundles, ["resume", str(run_dir)])
    assert final.returncode in (0, 1), final.stdout + final.stderr  # 1: no candidate passed (a verdict, not a failure)
    assert json.loads((run_dir / "state.json").read_text())["state"] == "finished"
    candidates = [d for d in bundles.iterdir() if "-candidate-" in d.name]
    results = (run_dir / "results.jsonl").read_text().splitlines()
    assert len(results) == len(candidates) == 2  # one bundle per candidate, each recorded once
    again = cli("evaluate", str(bundles), env=ENV)
    assert again.returncode == 0 and "0 bundle(s) evaluated" in again.stdout


def test_bench_defer_then_resume(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "suite"
    suite.mkdir()
    shutil.copy(TASK, suite / "01_relu.py")
    bench_dir, bundles = tmp_path / "bench", tmp_path / "bundles"
    parked = cli("bench", str(suite), "--model", "builtin", "--max-candidates", "1", "--defer", str(bundles),
                 "-o", str(bench_dir), env=ENV)
    assert parked.returncode == PARKED, parked.stdout + parked.stderr
    assert f"akg_cli bench --resume {bench_dir}" in parked.stdout
    final, rounds = _until_done(cli, bundles, ["bench", "--resume", str(bench_dir)])
    assert final.returncode == 0, final.stdout + final.stderr
    assert rounds >= 2 and (bench_dir / "summary.md").exists()


def test_one_line_errors(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scaled = cli("op", "--task", str(TASK), "--model", "builtin", "--defer", str(tmp_path / "b"),
                 "--scale-budget-ms", "5", "-o", str(tmp_path / "runs"))
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = cli("evaluate", str(empty))
    for proc, text in ((scaled, "--scale-budget-ms"), (nothing, "holds no bundles")):
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("error:") and text in proc.stderr.splitlines()[0]
