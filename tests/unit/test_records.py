from __future__ import annotations

from akg_agents.records import (
    Candidate,
    EvalResult,
    Mismatch,
    ProfileResult,
    RunConfig,
    Status,
    Timing,
    from_json,
    to_json,
)


def test_eval_result_round_trips_through_json() -> None:
    profile = ProfileResult(Timing(1.0, 0.1, 30), Timing(2.0, 0.2, 30), None, 2, ["note"])
    mismatch = Mismatch(1, 0, [3, 4], 1.0, 2.0, 1.0, 5, 100, "")
    result = EvalResult("c1", Status.PASSED, "ok", profile=profile, mismatch=mismatch, seeds=[0, 1, 2], timings_s={"total": 0.5})
    again = from_json(EvalResult, to_json(result))
    assert again == result
    assert again.profile is not None and again.profile.speedup == 2.0


def test_failed_result_feedback_carries_the_evidence() -> None:
    mismatch = Mismatch(2, 0, [7, 1], 0.5, -0.25, 0.75, 12, 4096, "")
    result = EvalResult("c2", Status.MISMATCH, "output differs", log_tail="compiler says hi", mismatch=mismatch)
    text = result.feedback()
    assert "seed 2" in text and "(7, 1)" in text and "12/4096" in text and "compiler says hi" in text


def test_candidate_digest_depends_on_code_only() -> None:
    a = Candidate("a", "cpp", "code", agent="x")
    b = Candidate("b", "cpp", "code", agent="y", step=3)
    assert a.digest == b.digest != Candidate("c", "cpp", "other").digest


def test_run_config_round_trip() -> None:
    config = RunConfig("torch", "cpu", "x86_64", "cpp", "default", "builtin", devices=[0, 1], scale_budget_ms=50.0)
    assert from_json(RunConfig, to_json(config)) == config
