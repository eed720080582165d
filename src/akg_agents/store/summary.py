"""The end-of-run table: one row per candidate, written as summary.json and summary.md."""

from __future__ import annotations

from typing import Any

from akg_agents.records import Candidate, EvalResult, Task
from akg_agents.store.rundir import RunStore
from akg_agents.verify.evaluate import ReferenceInfo


def summary_rows(store: RunStore) -> list[dict[str, Any]]:
    rows = []
    for candidate, result in store.results.values():
        profile = result.profile
        rows.append(
            {
                "candidate": candidate.id,
                "agent": candidate.agent,
                "status": result.status.value,
                "candidate_ms": profile.candidate.median_ms if profile else None,
                "candidate_spread_ms": profile.candidate.spread_ms if profile else None,
                "eager_ms": profile.eager.median_ms if profile else None,
                "compile_ms": profile.compiled.median_ms if profile and profile.compiled else None,
                "speedup": profile.speedup if profile else None,
                "flags": profile.flags if profile else [],
                "params": candidate.params,
                "message": result.message,
                "eval_s": result.timings_s.get("total"),
            }
        )
    return rows


def _cell(value: Any, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def write_summary(
    store: RunStore, task: Task, info: ReferenceInfo, best: tuple[Candidate, EvalResult] | None, declined: str | None
) -> None:
    rows = summary_rows(store)
    lines = [f"# {task.name}", ""]
    if task.sizes:
        lines.append("Scaled sizes: " + ", ".join(f"{k}={v}" for k, v in task.sizes.items()))
    lines.append(f"Inputs: {info.input_shapes}; outputs: {info.output_shapes} {info.output_dtypes}")
    lines += ["", "| candidate | status | time (ms) | eager (ms) | speedup | note |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['candidate']} | {row['status']} | {_cell(row['candidate_ms'], '.4f')} | "
            f"{_cell(row['eager_ms'], '.4f')} | {_cell(row['speedup'], '.2f')} | {row['message'][:80]} |"
        )
    lines.append("")
    if best is not None:
        speed = f", {best[1].profile.speedup:.2f}x over eager" if best[1].profile else ""
        lines.append(f"Best: {best[0].id}{speed}. Exported to best_kernel.py.")
    elif declined:
        lines.append(f"The built-in generator declined this task: {declined}")
    else:
        lines.append("No candidate passed verification.")
    store.write_summary(rows, "\n".join(lines) + "\n")
