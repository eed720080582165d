"""A run's search story for `akg_cli report`: the best-so-far curve against evaluations, and the
lineage of the best kernel (which kernel it was derived from, back to its root).

The lineage comes from the kernel database when the run has one (evolve, adaptive_search: it
crosses runs, so a kernel derived from an earlier run's shows that run's ancestors too), else from
the candidates' parent ids in the run's own results.
"""

from __future__ import annotations

from pathlib import Path

from akg_agents.records import Candidate, EvalResult
from akg_agents.store.kernel_db import KernelDB, db_path, normalized_digest
from akg_agents.store.rundir import RunStore


def best_so_far_rows(store: RunStore) -> list[tuple[int, Candidate, EvalResult, float]]:
    """(evaluation number, candidate, result, best counted speedup so far) in evaluation order."""
    rows, best = [], 0.0
    for number, (candidate, result) in enumerate(store.results.values(), start=1):
        if result.ok and result.profile is not None and result.profile.counted:
            best = max(best, result.profile.speedup)
        rows.append((number, candidate, result, best))
    return rows


def lineage_lines(store: RunStore, best: Candidate) -> list[str]:
    path = db_path(store.root.parent, store.task(), store.config())
    if path.is_file():
        db = KernelDB(path)
        try:
            chain = db.lineage(normalized_digest(best.code))
        finally:
            db.close()
        if chain:
            here = str(store.root.resolve())
            return [f"{e.candidate_id} (generation {e.generation}, {_speed(e.speedup)}, {e.status}"
                    f"{'' if e.run == here else ', from run ' + Path(e.run).name}){_params(e.params)}" for e in chain]
    by_id = {c.id: (c, r) for c, r in store.results.values()}
    lines, current, seen = [], by_id.get(best.id), set()
    while current is not None and current[0].id not in seen:
        candidate, result = current
        seen.add(candidate.id)
        speed = result.profile.speedup if result.ok and result.profile and result.profile.counted else None
        lines.append(f"{candidate.id} ({candidate.agent}, {_speed(speed)}, {result.status.value}){_params(candidate.params)}")
        current = by_id.get(candidate.parent_id) if candidate.parent_id else None
    return lines


def _speed(value: float | None) -> str:
    return f"{value:.2f}x" if value is not None else "no speedup"


def _params(params: dict[str, object]) -> str:
    return ": " + ", ".join(f"{k}={v}" for k, v in sorted(params.items())) if params else ""


def search_markdown(run_dir: Path) -> str:
    store = RunStore.open(run_dir)
    rows = best_so_far_rows(store)
    if not rows:
        return ""
    lines = ["## Best so far against evaluations", "", "| evaluation | candidate | parent | status | speedup | best so far |",
             "|---|---|---|---|---|---|"]
    for number, candidate, result, best in rows:
        speed = f"{result.profile.speedup:.2f}" if result.ok and result.profile else "-"
        lines.append(f"| {number} | {candidate.id} | {candidate.parent_id or '-'} | {result.status.value} | {speed} | "
                     f"{best:.2f} |")
    winner = store.best()
    if winner is not None:
        lines += ["", f"## Lineage of the best kernel ({winner[0].id})", "", "Each line is the parent of the line above it.", "",
                  *(f"{i}. {text}" for i, text in enumerate(lineage_lines(store, winner[0]), start=1))]
    return "\n".join(lines) + "\n"


__all__ = ["best_so_far_rows", "lineage_lines", "search_markdown"]
