"""Reports from bench results: files written, task names in the page, edge cases that must not crash."""

from __future__ import annotations

import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from akg_agents.bench import run as bench_run
from akg_agents.bench.db import BenchDB
from akg_agents.bench.metrics import CORRECT, DECLINED, ERROR, INCORRECT, TaskResult
from akg_agents.bench.report import write_compare, write_report
from akg_agents.bench.tables import summary_markdown
from akg_agents.config.settings import Settings
from akg_agents.records import RunConfig, Task
from akg_agents.store.rundir import RunStore

pytest.importorskip("matplotlib")

CONFIG = RunConfig(framework="torch", backend="cpu", arch="x86_64", dsl="cpp", workflow="default", model="builtin")


def bench_dir(root: Path, results: list[TaskResult]) -> Path:
    tasks = [Task(name=r.name, source="# t\n") for r in results]
    db = BenchDB.create_or_continue(root, CONFIG, "suite", tasks)
    for result in results:
        db.mark_running(result.name)
        db.mark_done(result)
    db.close()
    return root


MIXED = [
    TaskResult(name="fast_one", status=CORRECT, speedup=3.0, speedup_compile=1.5, best_so_far=[1.0, 3.0],
               sizes={"dim": 512}, input_shapes=[[8, 512]]),
    TaskResult(name="slow_one", status=CORRECT, speedup=0.6, speedup_compile=0.4, best_so_far=[0.0, 0.6],
               flags=["suspicious speedup"]),
    TaskResult(name="wrong_one", status=INCORRECT, reason="mismatch: worst error 1.0", best_so_far=[0.0]),
    TaskResult(name="declined_one", status=DECLINED, reason="operation matmul"),
    TaskResult(name="broken_one", status=ERROR, reason="task 'x': not deterministic"),
]


def test_bench_report_files_and_contents(tmp_path: Path) -> None:
    root = bench_dir(tmp_path / "bench", MIXED)
    written = write_report(root, tmp_path / "out")
    names = {p.name for p in written}
    assert {"report.md", "report.html", "speedup_per_task.png", "speedup_vs_compile.png",
            "speedup_distribution.png", "best_so_far.png"} <= names
    page = (tmp_path / "out" / "report.html").read_text()
    assert all(r.name in page for r in MIXED) and page.count("data:image/png;base64,") == 4
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "vs torch.compile" in markdown and "[scaled: dim=512]" in markdown
    assert "Declined" in markdown and "operation matmul" in markdown and "Flagged" in markdown


def test_report_with_no_correct_task_does_not_crash(tmp_path: Path) -> None:
    root = bench_dir(tmp_path / "bench", MIXED[2:])
    write_report(root, tmp_path / "out")
    assert "| correct | 0 (0.0%) |" in (tmp_path / "out" / "report.md").read_text()
    assert "geomean speedup (correct tasks) | - |" in summary_markdown("t", MIXED[2:], None)


def test_compare_lists_every_task_of_either_side(tmp_path: Path) -> None:
    a = bench_dir(tmp_path / "a", MIXED[:3])
    b = bench_dir(tmp_path / "b", [*MIXED[1:2], TaskResult(name="only_b", status=CORRECT, speedup=1.2)])
    write_compare(a, b, tmp_path / "cmp")
    text = (tmp_path / "cmp" / "compare.md").read_text()
    assert "| fast_one | correct | 3.00x | absent |" in text and "only_b" in text
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 0


def test_run_directory_report(tmp_path: Path) -> None:
    store = RunStore.create(str(tmp_path / "runs"), CONFIG, Task(name="relu", source="# t\n"))
    store.event("task_validated", inputs=[[4, 4]], outputs=[[4, 4]], eager_ms=0.1, sizes={})
    store.set_state("finished")
    written = write_report(store.root, tmp_path / "out")
    assert {"candidates.png", "best_so_far.png"} <= {p.name for p in written}
    assert "relu" in (tmp_path / "out" / "report.html").read_text()


def test_gpu_devices_take_tasks_concurrently(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = RunConfig(framework="torch", backend="cuda", arch="h100", dsl="triton_cuda", workflow="default",
                       model="builtin", devices=[0, 1])
    seen: dict[str, list[int]] = {}
    lock = threading.Lock()

    def fake_execute(task: Task, cfg: RunConfig, settings: Settings, reporter: Any = None, **_: Any) -> Any:
        with lock:
            seen[task.name] = cfg.devices
        return SimpleNamespace(store=RunStore.create(settings.log_dir, cfg, task))

    monkeypatch.setattr(bench_run, "execute", fake_execute)
    monkeypatch.setattr(bench_run, "make_evaluator", lambda cfg, settings: SimpleNamespace(close=lambda: None))
    monkeypatch.setattr(bench_run, "task_result", lambda root, name, wall_s: TaskResult(name=name, status=CORRECT, speedup=1.0))
    tasks = [Task(name=f"t{i}", source="# t\n") for i in range(6)]
    db = BenchDB.create_or_continue(tmp_path, config, "suite", tasks)
    results = bench_run.run_bench(db, config, Settings())
    assert sorted(r.name for r in results) == [t.name for t in tasks]
    assert all(len(devices) == 1 and devices[0] in (0, 1) for devices in seen.values())  # one device per task
    assert db.counts()["tasks_by_attempts"] == {1: 6}
    db.close()
