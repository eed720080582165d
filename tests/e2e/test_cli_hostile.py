"""A hostile new user's pass over the CLI (issue 17): every bad input is one line and a non-zero
exit, runs are safe from their neighbours, hints fit the command, long steps are not silence.

Each test runs `akg_cli` as a user does (the `cli` fixture: a subprocess in a temp folder).
Nothing here depends on timings: where a long step is needed, it is made long on purpose (a task
that sleeps at import, a kernel that spins until its timeout) and the progress threshold is tiny.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

SMALL = ROOT / "tests" / "fixtures" / "tasks" / "relu_small.py"
CHEATS = ROOT / "tests" / "unit" / "cheats"
BLIND = ROOT / "tests" / "fixtures" / "replay" / "blind_cpu_examples.jsonl"
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from llm_server import ScriptedServer, chat_body  # noqa: E402


def one_line_error(done: subprocess.CompletedProcess[str], code: int, *expected: str) -> str:
    """The command failed with `code`, its first stderr line is the error, and no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    first = done.stderr.strip().splitlines()[0]
    assert first.startswith("error:"), done.stderr
    for text in expected:
        assert text in first, (text, first)
    return first


def env_of(tmp_path: Path, cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_")}
    env.update({"AKG_AGENTS_CONFIG": str(tmp_path / "none.yaml"), "AKG_AGENTS_CACHE_DIR": str(cache_dir), **extra})
    return env


def run_dirs(folder: Path) -> list[Path]:
    # kernels/ holds the task's kernel database, beside the run directories
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name != "kernels") if folder.is_dir() else []


# -- 1. output folders that cannot be written ------------------------------------------------


def test_output_folders_that_cannot_be_written_are_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    fake_run = tmp_path / "fake_run"
    fake_run.mkdir()
    (fake_run / "config.yaml").write_text("{}\n")  # looks like a run directory: report gets as far as -o
    cases = [
        (("op", "--task", str(SMALL), "-o", "/proc/nope"), "/proc/nope"),
        (("op", "--task", str(SMALL), "-o", "afile"), "afile is a file"),
        (("verify", str(CHEATS / "honest.py"), "--task", str(SMALL), "-o", "afile"), "afile is a file"),
        (("bench", "cpu_small", "-o", "afile/x"), "afile is a file"),
        (("report", str(fake_run), "-o", "afile/r"), "afile is a file"),
    ]
    for args, expected in cases:
        one_line_error(cli(*args), 2, expected)
    assert afile.read_text() == "not a folder\n"


def test_op_in_a_read_only_folder_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() == 0:
        read_only = Path("/sys")  # root writes through file modes; sysfs refuses a new folder to anyone
    else:
        read_only = tmp_path / "ro"
        read_only.mkdir()
        read_only.chmod(0o555)
    one_line_error(cli("op", "--task", str(SMALL), cwd=read_only), 2, "akg_runs")


# -- 2. one bench per directory ---------------------------------------------------------------


def _tiny_suite(tmp_path: Path) -> Path:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "01_relu.py").write_text(SMALL.read_text())
    return suite


def test_a_second_bench_on_the_same_directory_is_refused_at_once(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite, bench_dir = _tiny_suite(tmp_path), tmp_path / "bench"
    bench_dir.mkdir()
    with open(bench_dir / "bench.lock", "a") as held:  # a bench is running there (it holds the lock)
        fcntl.flock(held, fcntl.LOCK_EX)
        for args in (("bench", str(suite), "-o", str(bench_dir)), ("bench", "--resume", str(bench_dir))):
            if args[1] == "--resume" and not (bench_dir / "bench.db").exists():
                continue  # nothing to resume: the fresh bench was refused before it wrote anything
            one_line_error(cli(*args), 2, "another akg_cli bench is running in", str(bench_dir))
    assert not (bench_dir / "results.jsonl").exists() and not (bench_dir / "runs").exists()


def test_a_killed_bench_leaves_no_stale_lock(cli, tmp_path: Path, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    suite, bench_dir = _tiny_suite(tmp_path), tmp_path / "bench"
    args = ["bench", str(suite), "--max-candidates", "1", "--threads", "1", "-o", str(bench_dir)]
    proc = subprocess.Popen([sys.executable, "-m", "akg_agents.cli", *args], cwd=tmp_path,
                            env=env_of(tmp_path, cache_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while not (bench_dir / "bench.db").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (bench_dir / "bench.db").exists() and proc.poll() is None, "the bench did not start"
    os.killpg(proc.pid, signal.SIGKILL)  # the bench dies holding its lock
    proc.wait()
    done = cli("bench", "--resume", str(bench_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (bench_dir / "results.jsonl").read_text().splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["01_relu"]


# -- 3. flags that cannot be honoured -----------------------------------------------------------


def test_flags_that_cannot_be_honoured_are_refused(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import platform

    other_arch = "x86_64" if platform.machine().lower() in ("aarch64", "arm64") else "aarch64"
    cases = [
        (("--devices", "-1"), "--devices"),
        (("--devices", "99"), "the cpu backend has one device, 0"),
        (("--devices", "0,0"), "lists device 0 twice"),
        (("--devices", "0,,1"), "empty entry"),
        (("--threads", "-2"), "--threads must be 0 (all cores) or more (got -2)"),
        (("--task", str(SMALL)), "--task given 2 times"),
        (("--arch", other_arch), f"--arch {other_arch} cannot be targeted from this"),
        (("--model", "gpt"), "--model must be builtin or llm"),
    ]
    for extra, expected in cases:
        one_line_error(cli("op", "--task", str(SMALL), *extra), 2, expected)
    assert not (tmp_path / "akg_runs").exists(), "refused before anything ran"


def test_max_candidates_beyond_the_generators_grid_is_noted(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    task = tmp_path / "row_sum.py"  # a row reduction: the built-in grid has 4 candidates
    task.write_text((ROOT / "examples" / "tasks" / "sum_reduce.py").read_text()
                    .replace("batch_size = 4096", "batch_size = 64").replace("dim = 4096", "dim = 128"))
    done = cli("op", "--task", str(task), "--max-candidates", "8", "--threads", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "--max-candidates 8 asks for more than the built-in generator has for this task: its whole grid is 4" in done.stdout


# -- 4. a settings file without a key -----------------------------------------------------------


def test_config_init_without_a_key_leaves_op_working(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = {"AKG_AGENTS_CONFIG": str(tmp_path / "config.yaml")}
    init = cli("config", "init", env=settings)
    assert init.returncode == 0, init.stderr
    assert "no API key configured" in init.stdout and "uses the built-in generator" in init.stdout
    done = cli("op", "--task", str(SMALL), "--max-candidates", "1", env=settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "model builtin" in done.stdout and "the configured LLM cannot be used" in done.stdout
    (run,) = run_dirs(tmp_path / "akg_runs")
    assert json.loads((run / "state.json").read_text())["state"] == "finished"
    insisted = cli("op", "--task", str(SMALL), "--model", "llm", env=settings)
    one_line_error(insisted, 5, "no API key configured")
    assert run_dirs(tmp_path / "akg_runs") == [run], "a setup error must not leave a run directory"


# -- 5. hints that fit the command --------------------------------------------------------------


def test_hints_fit_the_command(cli, tmp_path: Path, cache_dir: Path) -> None:  # type: ignore[no-untyped-def]
    request = cli("op", "--request", "a relu over 64x256 floats", "--model", "builtin")
    one_line_error(request, 5, "--request needs an LLM to write the task")
    assert "--model builtin" not in request.stderr and "--task FILE" in request.stderr

    bad = cli("op", "--task", str(SMALL), env={"AKG_AGENTS_VERIFY_TIMEOUT": "-1"})
    one_line_error(bad, 2, "verify_timeout")
    assert "it is set by AKG_AGENTS_VERIFY_TIMEOUT" in bad.stderr
    assert "no_config.yaml" not in bad.stderr  # the settings file named by the fixture does not exist

    # an LLM run that stopped on a rejected key, resumed where no model is configured
    with ScriptedServer([(401, {"error": {"message": "invalid key"}})]) as server:
        llm = {"AKG_AGENTS_LLM__PROVIDER": "openai_compat", "AKG_AGENTS_LLM__BASE_URL": server.url,
               "AKG_AGENTS_LLM__API_KEY": "sk-test", "AKG_AGENTS_LLM__MODELS__STANDARD": "m"}
        failed = cli("op", "--task", str(SMALL), "--model", "llm", "-o", "runs", env=llm)
    one_line_error(failed, 5, "rejected the API key")
    (run,) = run_dirs(tmp_path / "runs")
    resumed = cli("resume", str(run))
    # resume uses the settings saved with the run (provider openai_compat), not today's environment
    one_line_error(resumed, 5, f"{run} was made with --model llm", "no API key configured for the openai_compat provider")
    assert "--model builtin" not in resumed.stderr


def _interrupt(tmp_path: Path, cache_dir: Path, task: Path, after_line: str) -> tuple[int, str, str]:
    """Start `op`, wait for a line on its stdout, press Ctrl-C (SIGINT to the CLI process)."""
    proc = subprocess.Popen([sys.executable, "-m", "akg_agents.cli", "op", "--task", str(task), "--max-candidates", "24",
                             "--threads", "1"], cwd=tmp_path, env=env_of(tmp_path, cache_dir, COLUMNS="200"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if after_line in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, "".join(seen) + out, err


def test_ctrl_c_names_the_run_directory_to_resume(tmp_path: Path, cache_dir: Path) -> None:
    code, out, err = _interrupt(tmp_path, cache_dir, SMALL, "built-in generator:")
    assert code == 130, out + err
    (run,) = run_dirs(tmp_path / "akg_runs")
    assert f"akg_cli resume akg_runs/{run.name}" in err and "RUN_DIR" not in err


def test_ctrl_c_before_the_run_directory_exists_says_so(tmp_path: Path, cache_dir: Path) -> None:
    slow = tmp_path / "slow_import.py"
    slow.write_text("import time\n" + SMALL.read_text() + "\ntime.sleep(30)\n")  # preparation takes 30 s
    code, out, err = _interrupt(tmp_path, cache_dir, slow, "akg_agents op:")
    assert code == 130, out + err
    assert "before a run directory was created: nothing to resume" in err
    assert run_dirs(tmp_path / "akg_runs") == []


# -- 7 and 8. output outside a terminal; the task from standard input -----------------------------


def test_skill_names_are_whole_outside_a_terminal(cli) -> None:  # type: ignore[no-untyped-def]
    from akg_agents.skills import load_skills

    names = [skill.name for skill in load_skills([])]
    listed = cli("skills", "list", env={"COLUMNS": None})  # a pipe, 80 columns by default
    assert listed.returncode == 0, listed.stderr
    assert "…" not in listed.stdout
    assert all(name in listed.stdout for name in names)
    longest = max(names, key=len)
    shown = cli("skills", "show", longest, env={"COLUMNS": None})
    assert shown.returncode == 0 and longest in shown.stdout


def test_task_from_standard_input(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    done = cli("op", "--task", "-", "--max-candidates", "1", stdin=SMALL.read_text(), env={"COLUMNS": None})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "task task (read from standard input)" in done.stdout and "task 'task' validated" in done.stdout
    assert "…" not in done.stdout  # the results table is not cut to 80 columns outside a terminal
    (run,) = run_dirs(tmp_path / "akg_runs")
    assert run.name.startswith("task_cpp_") and (run / "task.py").read_text() == SMALL.read_text()
    one_line_error(cli("op", "--task", "-", stdin=""), 2, "standard input was empty")
    one_line_error(cli("op", "--task", "-", stdin="print('hello')\n"), 2, "standard input", "does not define")
    assert "'-' reads it from standard input (the task is then named 'task')" in cli("op", "--help").stdout


# -- 10. a --request run counts every call ------------------------------------------------------


def test_request_run_counts_the_task_constructors_calls(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    design = json.loads(BLIND.read_text().splitlines()[0])["text"]  # a recorded relu design
    script = [(200, chat_body(f"```python\n{SMALL.read_text()}```")),  # TaskConstructor
              (200, chat_body(design)),  # KernelDesigner
              (200, chat_body(f"```python\n{(CHEATS / 'honest.py').read_text()}```"))]  # KernelGen
    with ScriptedServer(script) as server:
        env = {"AKG_AGENTS_LLM__PROVIDER": "openai_compat", "AKG_AGENTS_LLM__BASE_URL": server.url,
               "AKG_AGENTS_LLM__API_KEY": "sk-test", "AKG_AGENTS_LLM__MODELS__STANDARD": "m",
               "AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP": "0", "AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "5"}
        done = cli("op", "--request", "a relu over 64x256 floats", "--model", "llm", "--workflow", "default",
                   "-o", "runs", env=env)
        requests = len(server.requests)
    assert done.returncode == 0, done.stdout + done.stderr
    (run,) = [p for p in run_dirs(tmp_path / "runs") if p.name != "constructed"]
    usage = json.loads((run / "llm_usage.json").read_text())
    assert requests == 3 and usage["total"]["calls"] == requests
    assert usage["by_agent"]["task_constructor"]["calls"] == 1
    assert f"LLM: {requests} call(s)" in done.stdout


# -- 11. poly bench: a new folder by default; resuming is said --------------------------------------


def test_poly_bench_writes_a_new_folder_and_says_when_it_resumes(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    committed = tmp_path / "benchmarks" / "poly" / "results" / "bench_MINI.jsonl"  # as in a project checkout
    committed.parent.mkdir(parents=True)
    record = {"kernel": "atax", "size": "MINI", "variant": "orig", "threads": 1, "status": "ok", "mean": 1e-9}
    committed.write_text(json.dumps(record) + "\n")
    args = ("poly", "bench", "--kernels", "atax", "--variants", "orig", "--threads", "1", "--runs", "1")
    first = cli(*args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "resuming" not in first.stdout
    (folder,) = run_dirs(tmp_path / "akg_poly_bench")
    out = folder / "bench.jsonl"
    assert json.loads(out.read_text().splitlines()[0])["mean"] != 1e-9  # measured, not the checkout's line
    assert committed.read_text() == json.dumps(record) + "\n"
    again = cli(*args, "--out", str(out))
    assert again.returncode == 0 and f"resuming {out}: 1 result(s) recorded earlier" in again.stdout
    one_line_error(cli(*args, "--out", str(tmp_path)), 2, "is a folder")


# -- 6 and 12. a long step is not silence ---------------------------------------------------------


def test_long_steps_print_what_is_still_running(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    quick = {"AKG_AGENTS_PROGRESS_AFTER_S": "0.5"}
    slow = tmp_path / "slow_import.py"
    slow.write_text("import time\n" + SMALL.read_text() + "\ntime.sleep(3)\n")  # every import of it takes 3 s
    prepared = cli("op", "--task", str(slow), "--max-candidates", "1", env=quick)
    assert prepared.returncode in (0, 1), prepared.stdout + prepared.stderr
    assert "... still preparing task 'slow_import'" in prepared.stdout
    hang = cli("verify", str(CHEATS / "hang.py"), "--task", str(SMALL),
               env={**quick, "AKG_AGENTS_VERIFY_TIMEOUT": "4"})
    assert hang.returncode == 1, hang.stdout + hang.stderr
    assert "... still evaluating hang (compile, verify, profile)" in hang.stdout and "timeout" in hang.stdout


def test_a_bench_says_which_task_is_still_running(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "01_slow.py").write_text("import time\n" + SMALL.read_text() + "\ntime.sleep(3)\n")
    done = cli("bench", str(suite), "--max-candidates", "1", "--threads", "1", "-o", "b",
               env={"AKG_AGENTS_PROGRESS_AFTER_S": "0.5"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "... 01_slow: still preparing the task" in done.stdout  # one line per task otherwise (no -v)


@pytest.mark.parametrize("args", [["bench", "cpu_small", "--devices", "0,0"], ["bench", "cpu_small", "--threads", "-1"]])
def test_bench_checks_its_flags_too(cli, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    one_line_error(cli(*args), 2)
