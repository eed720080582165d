"""`akg_cli op` / `verify` / `resume` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT

RELU = str(ROOT / "examples" / "tasks" / "relu.py")
SMALL = str(ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py")
CHEATS = ROOT / "tests" / "unit" / "cheats"


def run_dir_from(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.startswith("run directory:"))
    return Path(line.split(":", 1)[1].strip())


def test_op_on_the_quick_start_example(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--framework", "torch", "--backend", "cpu", "--arch", "x86_64", "--dsl", "cpp", "--task", RELU,
               "--max-candidates", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "validated" in out and "passed" in out and "speedup" in out and "exported kernel:" in out
    run = tmp_path / run_dir_from(out)
    for name in ("config.yaml", "task.py", "results.jsonl", "summary.md", "summary.json", "best_kernel.py", "events.jsonl"):
        assert (run / name).exists(), name
    assert json.loads((run / "state.json").read_text())["state"] == "finished"
    assert len((run / "results.jsonl").read_text().splitlines()) == 2


def test_exported_kernel_runs_without_akg_agents(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--task", SMALL, "--max-candidates", "1")
    run = tmp_path / run_dir_from(done.stdout)
    exported = (run / "best_kernel.py").read_text()
    script = (
        "import sys; sys.modules['akg_agents'] = None\n"  # any import of akg_agents now fails
        + exported
        + "\nimport torch\nx = torch.randn(8, 16)\nassert torch.equal(ModelNew()(x), torch.relu(x))\nprint('standalone ok')\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert "standalone ok" in ran.stdout, ran.stderr
    # and `akg_cli verify` accepts what `akg_cli op` exported
    checked = cli("verify", str(run / "best_kernel.py"), "--task", SMALL)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_verify_passes_honest_code_and_fails_a_cheat(cli) -> None:  # type: ignore[no-untyped-def]
    good = cli("verify", str(CHEATS / "honest.py"), "--task", SMALL)
    assert good.returncode == 0, good.stdout + good.stderr
    bad = cli("verify", str(CHEATS / "getattr_fallback.py"), "--task", SMALL)
    assert bad.returncode == 1
    assert "rejected" in bad.stdout and "torch-compute-in-forward" in bad.stdout


def test_bad_inputs_get_one_line_and_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "broken.py"
    broken.write_text("import torch\nclass Model(torch.nn.Module):\n    def forward(self, x):\n        return x.shape\n"
                      "def get_inputs():\n    return [torch.randn(4)]\ndef get_init_inputs():\n    return []\n")
    cases = [
        (("op", "--task", "missing.py"), "not found"),
        (("op", "--task", str(broken)), "returned a Size"),
        (("op", "--task", RELU, "--backend", "cpu", "--dsl", "triton_cuda"), "valid: cpp"),
        (("op", "--task", RELU, "--devices", "zero"), "--devices"),
        (("resume", str(tmp_path)), "not a run directory"),
    ]
    for args, expected in cases:
        done = cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert expected in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout


def test_a_killed_run_resumes_without_redoing_verified_work(cli, tmp_path: Path, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_")}
    env.update({"AKG_AGENTS_CONFIG": str(tmp_path / "none.yaml"), "AKG_AGENTS_CACHE_DIR": str(cache_dir)})
    proc = subprocess.Popen([sys.executable, "-m", "akg_agents.cli", "op", "--task", SMALL, "--max-candidates", "6"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    results: list[Path] = []
    while time.monotonic() < deadline:
        results = list((tmp_path / "akg_runs").glob("*/results.jsonl"))
        if results and len(results[0].read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    run = results[0].parent
    before = [json.loads(line)["candidate"]["id"] for line in results[0].read_text().splitlines() if line.strip()]
    assert 2 <= len(before) < 6
    done = cli("resume", str(run))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "from an earlier run" in done.stdout
    after = [json.loads(line)["candidate"]["id"] for line in results[0].read_text().splitlines() if line.strip()]
    assert sorted(set(after)) == sorted(after), "a candidate was evaluated twice"
    assert len(after) == 6 and after[: len(before)] == before


def test_op_on_a_kernelbench_file_as_written_races_the_finalists(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task = str(ROOT / "tests" / "fixtures" / "kernelbench_style" / "01_relu.py")  # super(Model, self).__init__()
    done = cli("op", "--task", task, "--max-candidates", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "finalists re-timed side by side" in done.stdout
    run = tmp_path / run_dir_from(done.stdout)
    race = json.loads((run / "race.json").read_text())["timings"]
    best = json.loads((run / "state.json").read_text())["best"]
    assert best == min(race, key=lambda cid: race[cid]["candidate"]["median_ms"])
    assert "fresh input sets" in done.stdout


def test_a_task_too_large_for_the_machine_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    huge = tmp_path / "huge.py"
    huge.write_text(Path(SMALL).read_text().replace("batch_size = 64", "batch_size = 64000000"))
    done = cli("op", "--task", str(huge))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "GiB" in done.stderr and "--scale-budget-ms" in done.stderr
    shrunk = cli("op", "--task", str(huge), "--scale-budget-ms", "5", "--max-candidates", "1")
    assert shrunk.returncode == 0, shrunk.stdout + shrunk.stderr
    assert "scaled" in shrunk.stdout


def test_bad_precision_is_one_line(cli) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--task", SMALL, "--precision", "fp8")
    assert done.returncode != 0 and "--precision" in done.stderr and "Traceback" not in done.stderr


def test_the_task_code_never_runs_in_the_cli_process(tmp_path: Path) -> None:
    """The task file is user code (with --request, a model's): it runs in the referee, the sandbox
    and a tracing child, never in the process of `akg_cli` itself."""
    marks = tmp_path / "marks"
    marks.mkdir()
    task = tmp_path / "marking.py"
    mark = f"import os\nos.close(os.open(os.path.join({str(marks)!r}, str(os.getpid())), os.O_CREAT | os.O_WRONLY))\n"
    task.write_text(mark + Path(SMALL).read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_")}
    proc = subprocess.Popen([sys.executable, "-m", "akg_agents.cli", "op", "--task", str(task), "--max-candidates", "1"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    ran_in = {int(p.name) for p in marks.iterdir()}
    assert ran_in and proc.pid not in ran_in
