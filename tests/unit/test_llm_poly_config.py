"""The poly_config workflow: a model (scripted fake) proposes PolyTOPS configs for a loop-nest
task; the system validates them, schedules, generates the ModelNew and verifies it for real."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from akg_agents.agents.parsing import ParseError
from akg_agents.agents.poly_config import parse_config_answer
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.poly_config import validate_config
from akg_agents.config.settings import load_settings
from akg_agents.llm.exchange import ExchangeProvider
from akg_agents.llm.fake import ScriptedProvider
from akg_agents.llm.meter import MeteredProvider
from akg_agents.poly.config import ConfigError
from akg_agents.records import RunConfig
from akg_agents.store.rundir import RunStore
from akg_agents.tasks.loader import load_task
from akg_agents.workflows import get_workflow, poly_config
from akg_agents.workflows.base import RunContext
from akg_agents.workflows.runner import make_evaluator

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tests" / "fixtures" / "tasks"
ASK = "# Task: choose a PolyTOPS schedule config"
GOOD = "```yaml\nbase: cpu_vectorize\nfusion: 'no'\ntile_sizes: [32]\nsimd_reduction: true\nrelax_reductions: true\n```"
SERIAL = "```yaml\nbase: isl_like\ntile: false\nparallel: false\n```\nOne thread: the matrices are small."
LOOPS = {"S0": ["o0", "o1"], "S1": ["o0", "r0", "o1"]}


def _run(tmp_path: Path, cache_dir: Path, fake: Any, budget: int, task: str = "matmul_small.py") -> RunStore:
    loaded = load_task(TASKS / task)
    config = RunConfig("torch", "cpu", "x86_64", "cpp", "poly_config", "llm", max_candidates=budget, run_times=3,
                       warmup_times=1)
    store = RunStore.create(str(tmp_path), config, loaded)
    evaluator = make_evaluator(config, load_settings("cpp", {"cache_dir": str(cache_dir)}))
    try:
        asyncio.run(poly_config.run(RunContext(loaded, config, store, evaluator), provider=MeteredProvider(fake)))
    finally:
        evaluator.close()
    return store


@pytest.fixture(autouse=True)
def _no_user_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(tmp_path / "none.yaml"))


def _results(store: RunStore) -> list[tuple[str, str, str]]:
    rows = [json.loads(line) for line in (store.root / "results.jsonl").read_text().splitlines()]
    return [(r["candidate"]["id"], r["result"]["status"], r["candidate"]["code"]) for r in rows]


def _kernel_body(code: str) -> str:
    """The generated function (the math prelude above it mentions pragmas in comments)."""
    return code.split('extern "C" void akg_kernel', 1)[1]


def test_a_valid_config_becomes_a_verified_candidate(tmp_path: Path, cache_dir: Path) -> None:
    fake = ScriptedProvider([(ASK, GOOD)])
    store = _run(tmp_path, cache_dir, fake, budget=1)
    [(cid, status, code)] = _results(store)
    assert (cid, status) == ("llm-1", "passed")
    assert "#pragma omp parallel for" in code and "PolyTOPS, config cpu_vectorize+llm" in code
    prompt = fake.calls[0][1][-1].content
    assert 'k.stmt("T0[o0][o1] += X0[o0][r0] * X1[r0][o1]")  # S1' in prompt  # the nest, as DSL text
    assert "coef_bound: int 1..8" in prompt and "pluto_like = objectives" in prompt  # the schema, presets
    row = json.loads((store.root / "results.jsonl").read_text().splitlines()[0])
    assert row["candidate"]["params"] == {"generator": "poly_config", "config": {
        "base": "cpu_vectorize", "fusion": "no", "tile_sizes": [32], "simd_reduction": True, "relax_reductions": True}}
    assert row["result"]["profile"]["candidate"]["median_ms"] > 0  # profiled like any candidate


def test_an_invalid_config_is_sent_back_and_the_corrected_one_runs(tmp_path: Path, cache_dir: Path) -> None:
    bad = "```yaml\nbase: cpu_vectorize\ntile_size: 64\nparallel: yes please\n```"
    fake = ScriptedProvider([(ASK, [bad, GOOD])])
    store = _run(tmp_path, cache_dir, fake, budget=1)
    assert [(c, s) for c, s, _ in _results(store)] == [("llm-1", "passed")]
    retry = fake.calls[1][1]
    assert retry[-2].content == bad.strip()  # the model's own answer, then the reason
    assert "invalid config: unknown config keys: tile_size" in retry[-1].content
    events = [json.loads(line) for line in (store.root / "events.jsonl").read_text().splitlines()]
    assert any(e["event"] == "answer_unusable" and "tile_size" in e["reason"] for e in events)


def test_the_config_reaches_the_scheduler_and_feedback_reaches_the_next_prompt(tmp_path: Path, cache_dir: Path) -> None:
    fake = ScriptedProvider([(ASK, [GOOD, SERIAL])])
    store = _run(tmp_path, cache_dir, fake, budget=2)
    (_, first, parallel_code), (_, second, serial_code) = _results(store)
    assert first == second == "passed"
    parallel_body, serial_body = _kernel_body(parallel_code), _kernel_body(serial_code)
    assert "#pragma omp parallel" in parallel_body and "#pragma omp" not in serial_body  # parallel, simd off
    assert "_c0 += 1)" in serial_body and "+= 32" not in serial_body and "+= 32" in parallel_body  # tile: false
    second_prompt = fake.calls[1][1][-1].content
    assert "## Earlier attempts for this task" in second_prompt and "### llm-1" in second_prompt
    assert "status: passed" in second_prompt and "speedup" in second_prompt and "Best so far: llm-1" in second_prompt


def test_a_repeated_config_is_told_not_evaluated(tmp_path: Path, cache_dir: Path) -> None:
    fake = ScriptedProvider([(ASK, [GOOD, GOOD, SERIAL])])
    store = _run(tmp_path, cache_dir, fake, budget=3)
    assert [(c, s) for c, s, _ in _results(store)] == [("llm-1", "passed"), ("llm-3", "passed")]
    third = fake.calls[2][1][-1].content
    assert "### llm-2" in third and "not evaluated: the same config as llm-1" in third


def test_a_scheduler_that_gives_no_answer_is_told_to_the_model(tmp_path: Path, cache_dir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(poly_config, "SCHEDULE_TIMEOUT_S", 0.2)  # no child traces and schedules this fast
    fake = ScriptedProvider([(ASK, [GOOD, SERIAL])])
    store = _run(tmp_path, cache_dir, fake, budget=2)
    assert not (store.root / "results.jsonl").exists() or _results(store) == []
    second = fake.calls[1][1][-1].content
    assert "### llm-1" in second and "the scheduler gave no answer under this config" in second
    assert "No attempt has passed yet" in second


def test_a_scheduler_error_becomes_the_reply_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.builtin import poly_config as builtin_config
    from akg_agents.builtin import poly_cpp

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("no hyperplane\nsecond line")

    monkeypatch.setattr(poly_cpp, "schedule", broken)
    task = load_task(TASKS / "matmul_small.py")
    reply = builtin_config.child_reply(task, {"job": "poly_code", "config": {"base": "pluto_like"}})
    assert reply == {"error": "the scheduler failed under this config: RuntimeError: no hyperplane"}
    assert builtin_config.child_reply(task, {"job": "poly_code", "config": {"tile": 3}}) == {
        "error": "invalid config: tile must be true or false, not 3"}


def test_a_resumed_run_shows_the_configs_evaluated_before(tmp_path: Path, cache_dir: Path) -> None:
    store = _run(tmp_path, cache_dir, ScriptedProvider([(ASK, GOOD)]), budget=1)
    fake = ScriptedProvider([(ASK, [GOOD, SERIAL])])
    config = RunConfig("torch", "cpu", "x86_64", "cpp", "poly_config", "llm", max_candidates=1, run_times=3,
                       warmup_times=1)
    evaluator = make_evaluator(config, load_settings("cpp", {"cache_dir": str(cache_dir)}))
    try:
        asyncio.run(poly_config.run(RunContext(load_task(TASKS / "matmul_small.py"), config, RunStore.open(store.root), evaluator),
                                    provider=MeteredProvider(fake)))
    finally:
        evaluator.close()
    first = fake.calls[0][1][-1].content
    assert "### llm-1" in first and "status: passed" in first
    # the same config again is told, not evaluated; numbering goes on after llm-1
    assert [(c, s) for c, s, _ in _results(RunStore.open(store.root))] == [("llm-1", "passed")]
    events = [json.loads(line) for line in (store.root / "events.jsonl").read_text().splitlines()]
    assert [e["reason"] for e in events if e["event"] == "stop"][-1] == "1 config(s) proposed (--max-candidates)"


def test_an_outside_answerer_through_the_exchange_folder(tmp_path: Path, cache_dir: Path) -> None:
    """The exchange provider: someone reads the request file and writes the answer file."""
    folder = tmp_path / "exchange"
    seen: list[str] = []

    def answerer() -> None:
        request = folder / "0001_standard.request.json"
        deadline = time.monotonic() + 120
        while not request.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        seen.append(json.loads(request.read_text())["messages"][-1]["content"])
        (folder / "0001_standard.answer.md").write_text(GOOD)

    thread = threading.Thread(target=answerer, daemon=True)
    thread.start()
    store = _run(tmp_path, cache_dir, ExchangeProvider(str(folder), timeout_s=120, poll_s=0.05), budget=1)
    thread.join(5)
    assert seen and seen[0].startswith(ASK) and "## The loop nest (matmul)" in seen[0]
    assert [(c, s) for c, s, _ in _results(store)] == [("llm-1", "passed")]


def test_a_task_without_a_loop_nest_is_declined_before_any_model_call(tmp_path: Path, cache_dir: Path) -> None:
    fake = ScriptedProvider([(ASK, GOOD)])
    with pytest.raises(NotCovered, match=r"the poly_config workflow needs a loop nest \(no matrix product"):
        _run(tmp_path, cache_dir, fake, budget=1, task="relu_small.py")
    assert fake.calls == []


@pytest.mark.parametrize(("config", "message"), [
    ({"tile_sizez": [8]}, "unknown config keys: tile_sizez"),
    ({"parallel": "no"}, "parallel must be true or false"),
    ({"base": "fastest"}, "unknown base preset 'fastest'"),
    ({"objectives": ["speed"]}, "unknown objective 'speed'"),
    ({"fusion": "some"}, "unknown fusion 'some'"),
    ({"tile_sizes": [0]}, "tile sizes must be positive"),
    ({"tile_sizes": "big"}, "tile_sizes must be a non-empty list of integers"),
    ({"coef_bound": 50}, "coef_bound must be in 1..8"),
    ({"coef_bound": 2.5}, "coef_bound must be an integer"),
    ({"dim_objectives": {"outer": ["parallel"]}}, "dim_objectives must map dimension numbers"),
    ({"directives": {"S7": {"serial": ["o0"]}}}, "no statement 'S7'"),
    ({"directives": {"S1": {"serial": ["k"]}}}, "'k' is not a loop of S1"),
    ({"directives": {"S1": {"parallel": ["o0"]}}}, "must be {serial: [loop names]}"),
])
def test_validation_names_the_problem(config: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        validate_config(config, LOOPS)
    assert message in str(caught.value)


def test_answers_without_a_usable_yaml_block() -> None:
    with pytest.raises(ParseError, match="no ```yaml block"):
        parse_config_answer("use pluto_like", LOOPS)
    with pytest.raises(ParseError, match="the YAML does not parse"):
        parse_config_answer("```yaml\nbase: [pluto\n```", LOOPS)
    with pytest.raises(ParseError, match="must be a YAML mapping"):
        parse_config_answer("```yaml\n- pluto_like\n```", LOOPS)
    assert parse_config_answer("```yaml\nbase: pluto_like\ndirectives: {S1: {serial: [r0]}}\n```", LOOPS)["base"] == "pluto_like"


def test_the_workflow_is_reached_by_name_and_needs_a_model() -> None:
    assert get_workflow("poly_config") is poly_config.run
