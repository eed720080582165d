"""`akg_cli op --workflow evolve|adaptive_search --model builtin` as a user runs them, on a bundled
CPU example (examples/tasks/relu.py); a second run on the same task starts from the first one's kernels; `akg_cli report`
shows the best-so-far table and the best kernel's lineage. (Which kernel is fastest is left to the
machine: the tests assert structure, never a timing.)"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from conftest import ROOT

RELU = str(ROOT / "examples" / "tasks" / "relu.py")


def run_dir_from(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("run directory:"))
    return Path(line.split(":", 1)[1].strip())


def kernel_rows(folder: Path) -> list[sqlite3.Row]:
    (database,) = list((folder / "kernels").glob("*.sqlite"))
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    return list(conn.execute("SELECT * FROM kernels ORDER BY created_at"))


@pytest.mark.parametrize("workflow", ["evolve", "adaptive_search"])
def test_search_workflow_with_the_builtin_generator(cli, tmp_path: Path, workflow: str) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--task", RELU, "--workflow", workflow, "--model", "builtin", "--max-candidates", "4",
               "-o", "runs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not available" not in done.stdout and "search stops:" in done.stdout
    run = tmp_path / run_dir_from(done.stdout)
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert len(results) == 4 and (run / "best_kernel.py").exists()
    rows = kernel_rows(tmp_path / "runs")
    assert len(rows) == 4 and all(r["state"] == "done" for r in rows)
    assert rows[0]["parents"] == "[]" and all(json.loads(r["parents"]) for r in rows[1:])  # every child has a parent
    assert len({r["params_key"] for r in rows}) == 4  # no parameters evaluated twice
    saved = (run / "settings.yaml").read_text()
    assert "search:" in saved and "api_key" not in saved

    again = cli("op", "--task", RELU, "--workflow", workflow, "--model", "builtin", "--max-candidates", "2",
                "-o", "runs")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "starting from" in again.stdout and "4 kernel(s) known" in again.stdout
    second = tmp_path / run_dir_from(again.stdout)
    assert len(kernel_rows(tmp_path / "runs")) == 6  # two new kernels; the known ones were not evaluated again
    assert any(p.name.startswith("known-") for p in (second / "candidates").iterdir())

    report = cli("report", str(second))
    assert report.returncode == 0, report.stdout + report.stderr
    text = (second / "report" / "report.md").read_text()
    assert "Best so far against evaluations" in text and "Lineage of the best kernel" in text


def test_op_help_lists_the_search_workflows(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--help")
    assert "evolve" in done.stdout and "adaptive_search" in done.stdout
