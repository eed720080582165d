"""`akg_cli op --model llm` as a user runs it: replayed exchanges (real compile and verification),
and the one-line errors for a missing key, a wrong key, an unreachable endpoint and garbage output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BLIND = ROOT / "tests" / "fixtures" / "replay" / "blind_cpu_examples.jsonl"
sys.path.insert(0, str(ROOT / "tests" / "unit"))
from llm_server import ScriptedServer, chat_body, closed_port  # noqa: E402

SECRET = "sk-e2e-SECRET-key-0042"


def akg(args: list[str], tmp: Path, cache: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_")}
    clean.update({"AKG_AGENTS_CONFIG": str(tmp / "none.yaml"), "AKG_AGENTS_CACHE_DIR": str(cache),
                  "AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "5", "COLUMNS": "200",
                  # replays must not depend on this machine's timings (see settings.optimize_below_speedup)
                  "AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP": "0", **env})
    return subprocess.run([sys.executable, "-c", "from akg_agents.cli.app import main; main()", *args],
                          capture_output=True, text=True, env=clean, timeout=240, cwd=ROOT)


def op(task: str, tmp: Path) -> list[str]:
    return ["op", "--task", str(ROOT / task), "--backend", "cpu", "--dsl", "cpp", "--workflow", "default",
            "--model", "llm", "-o", str(tmp / "runs")]


def run_dir(tmp: Path) -> Path:
    dirs = [p for p in (tmp / "runs").iterdir() if p.name != "kernels"]  # kernels/: the kernel database
    assert len(dirs) == 1
    return dirs[0]


@pytest.mark.parametrize("task", ["relu", "layernorm", "rmsnorm", "sum_reduce"])
def test_replayed_blind_exchanges_run_end_to_end(task: str, tmp_path: Path, cache_dir: Path) -> None:
    """Real compile, verification and profiling of what a model wrote from the request files alone."""
    proc = akg(op(f"examples/tasks/{task}.py", tmp_path), tmp_path, cache_dir,
               AKG_AGENTS_LLM__PROVIDER="replay", AKG_AGENTS_LLM__REPLAY_FILE=str(BLIND))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "best llm-1" in proc.stdout and "LLM: " in proc.stdout
    root = run_dir(tmp_path)
    assert (root / "best_kernel.py").exists() and (root / "llm_usage.json").exists()
    prompts = sorted(p.name for p in (root / "prompts").iterdir())
    assert prompts[:2] == ["001_kernel_designer.prompt.md", "001_kernel_designer.response.md"]


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], text: str, tmp: Path) -> None:
    assert proc.returncode == 5, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("error:") and text in first, proc.stderr


def test_no_provider_configured(tmp_path: Path, cache_dir: Path) -> None:
    proc = akg(op("tests/fixtures/tasks/relu_small.py", tmp_path), tmp_path, cache_dir)
    _assert_one_line_error(proc, "no LLM provider is configured", tmp_path)
    proc = akg(op("tests/fixtures/tasks/relu_small.py", tmp_path), tmp_path, cache_dir,
               AKG_AGENTS_LLM__PROVIDER="openai_compat", AKG_AGENTS_LLM__MODELS__STANDARD="m")
    _assert_one_line_error(proc, "no API key configured", tmp_path)


@pytest.mark.parametrize("case", ["bad_key", "unreachable", "garbage"])
def test_provider_failures_are_one_line_and_leave_the_run_dir(case: str, tmp_path: Path, cache_dir: Path) -> None:
    script = {"bad_key": [(401, {"error": {"message": "invalid key"}})],
              "garbage": [(200, chat_body("I'm sorry, I can't write code today."))]}.get(case, [(200, chat_body(""))])
    with ScriptedServer(script) as srv:
        url = f"http://127.0.0.1:{closed_port()}/v1" if case == "unreachable" else srv.url
        proc = akg(op("tests/fixtures/tasks/relu_small.py", tmp_path), tmp_path, cache_dir,
                   AKG_AGENTS_LLM__PROVIDER="openai_compat", AKG_AGENTS_LLM__BASE_URL=url,
                   AKG_AGENTS_LLM__API_KEY=SECRET, AKG_AGENTS_LLM__MODELS__STANDARD="m")
    expected = {"bad_key": "rejected the API key", "unreachable": "cannot connect",
                "garbage": "could not be used after 3 tries"}[case]
    _assert_one_line_error(proc, expected, tmp_path)
    root = run_dir(tmp_path)
    assert (root / "config.yaml").exists() and (root / "task.py").exists()
    assert any(json.loads(line)["event"] == "llm_error" for line in (root / "events.jsonl").read_text().splitlines())
    for file in root.rglob("*"):
        if file.is_file():
            assert SECRET not in file.read_text(errors="ignore"), file
    assert SECRET not in proc.stdout + proc.stderr


def test_replayed_blind_model_speeds_up_a_kernel_from_the_vectorization_report(tmp_path: Path, cache_dir: Path) -> None:
    """Recorded from a model that saw only the request files: its first scale_tanh_residual kernel
    passed at ~0.4x, the Conductor read g++'s "NOT vectorized" report and asked for two fixes, and
    the third kernel ran ~10x faster than eager there. Measured speedups must not steer a replay
    (on a CPU without AVX-512 the third kernel is ~2x, not ~10x): every verified kernel counts as
    slow (threshold 1000) and the run gets exactly two optimization rounds, as recorded."""
    # --max-candidates 6: the recording was made when the loop's budget was max_step (6), and the
    # Conductor's prompt says how many attempts are left
    proc = akg([*op("examples/tasks/scale_tanh_residual.py", tmp_path), "--max-candidates", "6"], tmp_path, cache_dir,
               AKG_AGENTS_LLM__PROVIDER="replay", AKG_AGENTS_LLM__REPLAY_FILE=str(BLIND),
               AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP="1000", AKG_AGENTS_OPTIMIZE_ROUNDS="2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    root = run_dir(tmp_path)
    events = [json.loads(line) for line in (root / "events.jsonl").read_text().splitlines()]
    assert [e["action"] for e in events if e["event"] == "decision"] == ["fix", "fix"]
    results = [json.loads(line)["result"] for line in (root / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in results] == ["passed", "passed", "passed"]
    # the fix the model was steered to (vectorize the loop) made the kernel faster, on any machine
    assert results[-1]["profile"]["candidate"]["median_ms"] < results[0]["profile"]["candidate"]["median_ms"]


def test_replayed_blind_model_passes_first_try(tmp_path: Path, cache_dir: Path) -> None:
    proc = akg(op("examples/tasks/swish_mul.py", tmp_path), tmp_path, cache_dir,
               AKG_AGENTS_LLM__PROVIDER="replay", AKG_AGENTS_LLM__REPLAY_FILE=str(BLIND))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "best llm-1" in proc.stdout
