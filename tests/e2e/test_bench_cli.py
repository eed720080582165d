"""`akg_cli bench` and `akg_cli report` as a user runs them, on a tiny suite (CPU, built-in generator)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tasks" / "relu_small.py"
MATMUL = """import torch
import torch.nn as nn


class Model(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b)


m = 32


def get_inputs():
    return [torch.randn(m, m), torch.randn(m, m)]


def get_init_inputs():
    return []
"""


def cli(*args: str, cwd: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AKG_AGENTS_CACHE_DIR": str(cache), "AKG_AGENTS_CONFIG": str(cwd / "no_config.yaml")}
    code = "from akg_agents.cli.app import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture()
def tiny_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "tiny"
    suite.mkdir()
    relu = FIXTURE.read_text().replace("batch_size = 64", "batch_size = 32").replace("dim = 256", "dim = 128")
    (suite / "01_relu.py").write_text(relu)
    (suite / "02_tanh.py").write_text(relu.replace("torch.relu(x)", "torch.tanh(x) * 0.5"))
    (suite / "03_matmul.py").write_text(MATMUL)  # the built-in generator declines matmul
    return suite


@pytest.mark.slow
def test_bench_then_report(tiny_suite: Path, tmp_path: Path, cache_dir: Path) -> None:
    bench_dir = tmp_path / "out"
    done = cli("bench", str(tiny_suite), "--model", "builtin", "--max-candidates", "2", "--threads", "1",
               "-o", str(bench_dir), cwd=tmp_path, cache=cache_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fast_1" in done.stdout and "declined" in done.stdout
    with sqlite3.connect(bench_dir / "bench.db") as conn:
        states = dict(conn.execute("SELECT name, state FROM tasks").fetchall())
    assert states == {"01_relu": "done", "02_tanh": "done", "03_matmul": "done"}
    assert len((bench_dir / "results.jsonl").read_text().splitlines()) == 3

    again = cli("bench", str(tiny_suite), "--model", "builtin", "--max-candidates", "2", "--threads", "1",
                "-o", str(bench_dir), cwd=tmp_path, cache=cache_dir)  # same --output: nothing left to run
    assert again.returncode == 0 and "3 already done" in again.stdout.replace("\n", " ")
    assert len((bench_dir / "results.jsonl").read_text().splitlines()) == 3

    report = cli("report", str(bench_dir), cwd=tmp_path, cache=cache_dir)
    assert report.returncode == 0, report.stderr
    out = bench_dir / "report"
    for name in ("report.md", "report.html", "speedup_per_task.png", "speedup_distribution.png", "best_so_far.png"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "report.html").read_text()
    assert all(task in page for task in ("01_relu", "02_tanh", "03_matmul")) and "data:image/png;base64," in page

    compare = cli("report", "--compare", str(bench_dir), str(bench_dir), "-o", str(tmp_path / "cmp"), cwd=tmp_path, cache=cache_dir)
    assert compare.returncode == 0, compare.stderr
    assert "02_tanh" in (tmp_path / "cmp" / "compare.md").read_text()


@pytest.mark.parametrize("args", [["bench", "no_such_suite"], ["bench", "cpu_small", "--problems", "9-2"],
                                  ["bench", "cpu_small", "--problems", "x"], ["report", "missing_dir"]])
def test_bad_input_is_one_line_and_exit_2(args: list[str], tmp_path: Path, cache_dir: Path) -> None:
    done = cli(*args, cwd=tmp_path, cache=cache_dir)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip().startswith("error:")
