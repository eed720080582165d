"""`akg_cli op` without a task, used as a person uses it: typed and pasted into a real terminal
(tmux send-keys / paste-buffer), read back from the screen (capture-pane).

- the built-in path (no model): words get one line, pasted task code runs the built-in generator,
  /status /runs /show /export, /exit, `akg_cli sessions`, `akg_cli resume SESSION`;
- the replay provider (tests/fixtures/replay/session_relu.jsonl): "Generate a relu kernel" ->
  TaskConstructor -> the default workflow -> "make it faster" (KernelGen from k1) -> "export k2",
  then a message the recording does not have: the provider fails, one line, the session goes on;
- Ctrl-C while the model is being waited for cancels that step, not the session.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tmux_screen import Screen

ROOT = Path(__file__).resolve().parents[2]
RELU = (ROOT / "examples" / "tasks" / "relu.py").read_text()
REPLAY = ROOT / "tests" / "fixtures" / "replay" / "session_relu.jsonl"
PROMPT = "akg>"

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def environment(tmp: Path, cache: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp), "LANG": "C.UTF-8", "TERM": "xterm-256color",
           "AKG_AGENTS_CONFIG": str(tmp / "none.yaml"), "AKG_AGENTS_CACHE_DIR": str(cache),
           "AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "5",
           # replays must not depend on this machine's timings (see settings.optimize_below_speedup)
           "AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP": "0"}
    for key in ("VIRTUAL_ENV", "PYTHONPATH", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return {**env, **extra}


def akg(*args: str) -> list[str]:
    return [sys.executable, "-m", "akg_agents.cli", *args]


def ask(screen: Screen, text: str, expect: str, timeout: float = 240.0) -> str:
    """Type a message, wait for `expect` and the next prompt; what appeared after the message."""
    start = screen.mark()
    screen.type(text)
    screen.wait_for(expect, timeout, after=start)
    screen.wait_prompt(PROMPT, 60)
    return screen.text()[start:]


def leave(screen: Screen) -> str:
    start = screen.mark()
    screen.type("/exit")
    return screen.wait_for("[program exited with code 0]", 60, after=start)


def test_builtin_session_words_pastes_and_resume(tmp_path: Path, cache_dir: Path) -> None:
    env = environment(tmp_path, cache_dir)
    with Screen("builtin", akg("op", "--backend", "cpu", "--dsl", "cpp", "--model", "builtin"), tmp_path, env) as screen:
        screen.wait_prompt(PROMPT, 60)
        assert "model builtin: pasted task code works" in screen.text()
        said = ask(screen, "Generate a relu kernel", "needs a model")
        assert "'Generate a relu kernel' needs a model: this session runs the built-in generator" in said
        said = ask(screen, "", "empty message")
        start = screen.mark()
        screen.paste("def add(a, b):\n    c = a + b\n    return c\n")
        screen.wait_for("is not a KernelBench task", 60, after=start)
        screen.wait_prompt(PROMPT, 60)
        start = screen.mark()
        screen.paste(RELU)
        screen.wait_for("/export k1 writes it", 600, after=start)
        screen.wait_prompt(PROMPT, 60)
        shown = screen.text()[start:]
        assert "task t1 'elementwise_relu' from paste #2" in shown and "best builtin-" in shown
        assert "agent: k1: passed" in shown
        status = ask(screen, "/status", "current task")
        assert "k1: passed" in screen.text()[-2000:], status
        ask(screen, "/runs", "k1 passed")
        exported = ask(screen, "/export k1", "exported")
        assert "exported k1 to" in exported
        start = screen.mark()
        screen.type("/exit")
        said = screen.wait_for("[program exited with code 0]", 60, after=start)
        session_id = said.split("reopen it with `akg_cli resume ")[1].split("`")[0]
    session = tmp_path / "akg_runs" / "sessions" / session_id
    assert (session / "session.json").is_file() and list((session / "exports").glob("*_cpp_k1.py"))
    assert "Generate a relu kernel" in (session / "transcript.md").read_text()

    with Screen("listing", akg("sessions"), tmp_path, env) as screen:
        assert session_id in screen.wait_for("reopen one with", 60)
    with Screen("reopen", akg("resume", session_id), tmp_path, env) as screen:
        shown = screen.wait_prompt(PROMPT, 60)
        assert f"reopened session {session_id}" in shown and "k1: passed" in shown
        leave(screen)


@pytest.mark.skipif(not REPLAY.exists(), reason="no session recording")
def test_replayed_session_builds_speeds_up_and_exports(tmp_path: Path, cache_dir: Path) -> None:
    """The recorded conversation (see record_session_relu.py), with real compiles, verification and timing."""
    env = environment(tmp_path, cache_dir, AKG_AGENTS_LLM__PROVIDER="replay", AKG_AGENTS_LLM__REPLAY_FILE=str(REPLAY))
    with Screen("replay", akg("op", "--backend", "cpu", "--dsl", "cpp", "--workflow", "default"), tmp_path, env) as screen:
        screen.wait_prompt(PROMPT, 60)
        first = ask(screen, "Generate a relu kernel", "agent: k1 is verified", timeout=600)
        assert "→ construct_task(request=" in first and "task t1 'elementwise_relu_y_max' written and validated" in first
        assert "→ run_workflow(workflow='default')" in first and "best llm-1" in first
        faster = ask(screen, "make it faster", "agent: k2 is verified", timeout=600)
        assert "→ generate(from='k1'" in faster and "passed        k2" in faster
        exported = ask(screen, "export k2", "agent: Exported k2")
        assert "exported k2 to akg_runs/sessions/" in exported
        # a provider that fails mid-session (a request the recording does not have): one line, the session goes on
        failed = ask(screen, "tell me a joke", "error: replay miss")
        assert "Traceback" not in screen.text() and len([line for line in failed.splitlines() if "error:" in line]) == 1
        status = ask(screen, "/status", "current task")
        assert "k1: passed" in status and "k2: passed" in status
        leave(screen)
    exports = list((tmp_path / "akg_runs" / "sessions").glob("*/exports/*_k2.py"))
    assert len(exports) == 1 and "class ModelNew" in exports[0].read_text()


def test_ctrl_c_cancels_the_step_not_the_session(tmp_path: Path, cache_dir: Path) -> None:
    env = environment(tmp_path, cache_dir, AKG_AGENTS_LLM__PROVIDER="exchange",
                      AKG_AGENTS_LLM__EXCHANGE_DIR=str(tmp_path / "exchange"))
    with Screen("cancel", akg("op", "--model", "llm"), tmp_path, env) as screen:
        screen.wait_prompt(PROMPT, 60)
        start = screen.mark()
        screen.type("Generate a relu kernel")
        screen.wait_for("asking the model", 60, after=start)
        screen.keys("C-c")
        screen.wait_for("cancelled: the step was stopped", 60, after=start)
        screen.wait_prompt(PROMPT, 30)
        assert "Traceback" not in screen.text()
        assert list((tmp_path / "exchange").glob("0001_*.request.md")), "the model was asked before the Ctrl-C"
        assert "current task: none yet" in ask(screen, "/status", "current task")
        start = screen.mark()
        screen.keys("C-d")
        assert "[program exited with code 0]" in screen.wait_for("[program exited", 60, after=start)


def test_ctrl_c_during_an_evaluation_then_the_next_step_runs(tmp_path: Path, cache_dir: Path) -> None:
    env = environment(tmp_path, cache_dir)
    with Screen("cancel-eval", akg("op", "--model", "builtin"), tmp_path, env) as screen:
        screen.wait_prompt(PROMPT, 60)
        start = screen.mark()
        screen.paste(RELU)
        screen.wait_for("built-in generator:", 300, after=start)  # candidates are being evaluated
        screen.keys("C-c")
        screen.wait_for("cancelled: the step was stopped (Ctrl-C); the session goes on", 60, after=start)
        screen.wait_prompt(PROMPT, 60)
        assert "no kernels yet" in ask(screen, "/status", "current task")
        start = screen.mark()
        screen.paste(RELU)
        screen.wait_for("/export k1 writes it", 600, after=start)
        screen.wait_prompt(PROMPT, 60)
        text = screen.text()
        # the cancelled step's coroutines leave no trace in the next step's output
        assert "Traceback" not in text and "Task was destroyed" not in text and "agent: k1: passed" in text
        leave(screen)
