"""Read one run directory back as a bench TaskResult (best candidate, shapes, cost).

Tokens and cost come from the run's llm_usage.json (the LLM meter's record, read once). Runs with
the built-in generator make no calls, so they report 0 tokens and 0 cost.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from akg_agents.bench.metrics import CORRECT, DECLINED, INCORRECT, TIMED_OUT, TaskResult
from akg_agents.llm.meter import USAGE_FILE, Tally
from akg_agents.records import Status
from akg_agents.store.rundir import RunStore

_STATUS_ORDER = list(Status)


def read_events(root: Path) -> list[dict[str, Any]]:
    path = root / "events.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run
    return events


def usage(root: Path) -> tuple[int, float]:
    """Tokens and cost of a run, counted once: its llm_usage.json, the meter's own record of every
    call of the run (across resumes, a TaskConstructor's calls included). The per-call events and
    the run's total event in events.jsonl describe the same calls and are not summed."""
    path = Path(root) / USAGE_FILE
    if not path.is_file():
        return 0, 0.0
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return 0, 0.0
    tally = Tally()
    tally.add_recorded(data.get("total", {}) if isinstance(data, dict) else {})
    return tally.prompt_tokens + tally.completion_tokens, tally.cost_usd


def best_so_far(speedups: list[float | None]) -> list[float]:
    """Best speedup after each evaluated candidate (0.0 while none has passed)."""
    curve, best = [], 0.0
    for value in speedups:
        if value is not None:
            best = max(best, value)
        curve.append(best)
    return curve


def task_result(run_dir: str | Path, name: str = "", wall_s: float = 0.0) -> TaskResult:
    store = RunStore.open(run_dir)
    task = store.task()
    events = read_events(store.root)
    validated = next((e for e in events if e.get("event") == "task_validated"), {})
    declined = next((e.get("reason", "") for e in events if e.get("event") == "declined"), None)
    tokens, cost = usage(store.root)
    pairs = list(store.results.values())
    curve = best_so_far([r.profile.speedup if r.ok and r.profile and r.profile.counted else None for _, r in pairs])
    common: dict[str, Any] = dict(
        name=name or task.name, candidates=len(pairs), passed=sum(r.ok for _, r in pairs), best_so_far=curve,
        sizes=dict(task.sizes), input_shapes=validated.get("inputs", []), tokens=tokens, cost_usd=cost,
        wall_s=wall_s, run_dir=str(store.root), eager_ms=validated.get("eager_ms"),
    )
    best = store.best()
    if best is not None:
        candidate, result = best
        profile = result.profile
        return TaskResult(
            status=CORRECT, best_candidate=candidate.id, **{**common, **_profile_fields(profile)},
        )
    if declined is not None and not pairs:
        return TaskResult(status=DECLINED, reason=declined or "not covered by the built-in generator", **common)
    if not pairs:
        return TaskResult(status=INCORRECT, reason="no candidate was evaluated", **common)
    if all(r.status == Status.TIMEOUT for _, r in pairs):  # none was shown wrong: a loaded machine or a hang
        return TaskResult(status=TIMED_OUT, reason=f"every candidate ({len(pairs)}) timed out: {pairs[0][1].message}", **common)
    furthest = max(pairs, key=lambda cr: _STATUS_ORDER.index(cr[1].status))[1]
    return TaskResult(status=INCORRECT, reason=f"{furthest.status.value}: {furthest.message}", **common)


def _profile_fields(profile: Any) -> dict[str, Any]:
    if profile is None:
        return {}
    return dict(
        # A time below the roofline floor is impossible: flagged, and no speedup is counted.
        speedup=profile.speedup if profile.counted else None,
        speedup_compile=profile.speedup_vs_compile if profile.counted else None, candidate_ms=profile.candidate.median_ms,
        eager_ms=profile.eager.median_ms, compile_ms=profile.compiled.median_ms if profile.compiled else None,
        flags=list(profile.flags),
    )


__all__ = ["best_so_far", "read_events", "task_result", "usage"]
