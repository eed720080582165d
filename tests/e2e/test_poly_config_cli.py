"""`akg_cli op --workflow poly_config --model llm` as a user runs it: a replayed exchange in which
the model proposed PolyTOPS configs for a matmul (an independent player answered from the request files alone), with
real scheduling, compilation, verification and profiling; and the one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

from akg_agents.agents.parsing import ParseError
from akg_agents.agents.poly_config import parse_config_answer

ROOT = Path(__file__).resolve().parents[2]
REPLAY = ROOT / "tests" / "fixtures" / "replay" / "poly_config_matmul.jsonl"
REPLAY_ENV = {"AKG_AGENTS_LLM__PROVIDER": "replay", "AKG_AGENTS_LLM__REPLAY_FILE": str(REPLAY),
              # replays must not depend on this machine's timings (see settings.optimize_below_speedup)
              "AKG_AGENTS_OPTIMIZE_BELOW_SPEEDUP": "0", "AKG_AGENTS_PROFILE_SETTINGS__RUN_TIMES": "5"}


def _answered_configs() -> list[dict[str, object]]:
    """The valid configs the recorded model answered, in order (an answer sent back as invalid is skipped)."""
    loops = {"S0": ["o0", "o1"], "S1": ["o0", "r0", "o1"]}
    configs = []
    for line in REPLAY.read_text().splitlines():
        try:
            configs.append(parse_config_answer(json.loads(line)["text"], loops))
        except ParseError:
            continue
    return configs


def _op(task: str, tmp: Path, *extra: str) -> list[str]:
    return ["op", "--task", str(ROOT / "tests" / "fixtures" / "tasks" / task), "--backend", "cpu", "--dsl", "cpp",
            "--workflow", "poly_config", "-o", str(tmp / "runs"), *extra]


def test_replayed_configs_become_verified_kernels(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    answered = _answered_configs()
    assert len(answered) >= 2
    proc = cli(*_op("matmul_small.py", tmp_path, "--model", "llm", "--max-candidates", str(len(answered))),
               env=REPLAY_ENV)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "poly_config: loop nest of 2 statement(s) for matmul" in proc.stdout
    assert "poly_config llm-2:" in proc.stdout and "best llm-" in proc.stdout
    [root] = [p for p in (tmp_path / "runs").iterdir() if p.name != "kernels"]
    rows = [json.loads(line) for line in (root / "results.jsonl").read_text().splitlines()]
    assert [(r["candidate"]["id"], r["result"]["status"]) for r in rows] == [
        (f"llm-{n}", "passed") for n in range(1, len(answered) + 1)]
    assert [r["candidate"]["params"]["config"] for r in rows] == answered  # the model's configs, recorded
    assert rows[0]["candidate"]["code"] != rows[1]["candidate"]["code"]
    second = (root / "prompts" / "002_poly_config.prompt.md").read_text()
    assert "### llm-1" in second and "status: passed" in second and "Best so far: llm-1" in second
    assert (root / "best_kernel.py").exists()


def test_refused_before_the_task_runs(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = cli(*_op("matmul_small.py", tmp_path, "--model", "builtin"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: --workflow poly_config needs an LLM to propose configs")
    assert not (tmp_path / "runs").exists()


def test_a_task_that_is_no_loop_nest_is_declined(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    proc = cli(*_op("relu_small.py", tmp_path, "--model", "llm"), env=REPLAY_ENV)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    assert "the poly_config workflow needs a loop nest (no matrix product or convolution" in proc.stdout
