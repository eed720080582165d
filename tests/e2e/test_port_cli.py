"""Porting from the command line: `akg_cli op --reference-kernel K.py` makes an existing kernel the
ground truth. The referee runs it as the task's Model (kernel_agent_port.py), so a kernel is
verified against the reference kernel's outputs, not against PyTorch."""

from __future__ import annotations

from pathlib import Path

from akg_agents.dsl import get_plugin

ROOT = Path(__file__).resolve().parents[2]
RELU_TASK = str(ROOT / "examples" / "tasks" / "relu.py")
FAST = {"AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "5"}


def kernels(tmp: Path) -> tuple[Path, Path]:
    reference = tmp / "ref_relu.py"
    reference.write_text(get_plugin("cpp").example())
    # ReLU plus a small offset: close to torch.relu, but not what the reference kernel computes
    off = tmp / "off_relu.py"
    off.write_text(reference.read_text().replace("0.0f : v;", "0.0f : v + 1e-3f;"))
    assert off.read_text() != reference.read_text()
    return reference, off


def test_a_kernel_is_verified_against_the_reference_kernel(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reference, off = kernels(tmp_path)
    common = ["op", "--reference-kernel", str(reference), "--task", RELU_TASK, "--workflow", "verifier_only",
              "--model", "builtin", "-o", str(tmp_path / "runs")]
    same = cli(*common, "--kernel", str(reference), env=FAST)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "its outputs are the ground truth" in same.stdout and "passed" in same.stdout
    task = next((tmp_path / "runs" / "ported").glob("*.py")).read_text()
    assert task.startswith("# akg_agents: reference kernel task") and "class Model(ModelNew)" in task
    wrong = cli(*common, "--kernel", str(off), env=FAST)
    assert wrong.returncode == 1 and "mismatch" in wrong.stdout, wrong.stdout + wrong.stderr


def test_port_mistakes_are_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    reference, _ = kernels(tmp_path)
    cases = [
        (["--reference-kernel", str(reference), "--model", "builtin"], "porting --reference-kernel needs an LLM"),
        (["--reference-kernel", str(reference), "--workflow", "verifier_only", "--kernel", str(reference), "--model",
          "builtin"], "defines no get_inputs()/get_init_inputs()"),
        (["--reference-kernel", RELU_TASK, "--task", RELU_TASK, "--workflow", "verifier_only", "--kernel",
          str(reference), "--model", "builtin"], "not a kernel in the candidate format"),
    ]
    for args, expected in cases:
        proc = cli("op", *args, "-o", str(tmp_path / "runs"))
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert expected in proc.stderr.strip().splitlines()[0], proc.stderr


def test_original_tool_names_are_accepted(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    legacy = {"AKG_AGENTS_BASE_URL": "http://127.0.0.1:9/v1", "AKG_AGENTS_API_KEY": "sk-legacy-0000",
              "AKG_AGENTS_MODEL_NAME": "deepseek-chat"}
    proc = cli("op", "--task-file", str(tmp_path / "missing.py"), "--model", "builtin", env=legacy)
    assert proc.returncode == 2 and "task file not found" in proc.stderr, proc.stderr  # not 'Extra inputs'
    proc = cli("config", "show", env=legacy)
    assert "deepseek-chat" in proc.stdout and "sk-legacy-0000" not in proc.stdout, proc.stdout + proc.stderr
    proc = cli("op", "--intent", "a relu", "--model", "builtin")
    assert proc.returncode == 5 and "--request needs an LLM" in proc.stderr, proc.stderr
    proc = cli("op", "--dsl", "cuda", "--backend", "cuda", "--arch", "a100", "--task", RELU_TASK, "--model", "builtin")
    assert "note: --dsl cuda is called cuda_c here; using cuda_c" in proc.stdout, proc.stdout + proc.stderr
    # without a terminal, no session opens: the usual one line
    proc = cli("op", "--model", "builtin")
    assert proc.returncode == 2 and "give exactly one of --task FILE or --request TEXT" in proc.stderr
    assert "in a terminal to open an interactive session" in proc.stderr


def test_resume_tells_a_session_from_a_run(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from akg_agents.cli.session_store import SessionStore

    store = SessionStore.create(str(tmp_path / "akg_runs"), {"dsl": "cpp", "backend": "cpu"}, "builtin")
    proc = cli("resume", store.state.id)  # found by id under ./akg_runs/sessions; no terminal here
    assert proc.returncode == 2 and "is a session: reopening it needs a terminal" in proc.stderr, proc.stderr
    proc = cli("resume", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and "is neither a run directory nor a session" in proc.stderr, proc.stderr
    proc = cli("sessions")
    assert store.state.id in proc.stdout and "akg_cli resume SESSION" in proc.stdout, proc.stdout + proc.stderr
