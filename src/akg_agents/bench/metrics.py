"""Bench metrics, as the field reports them (KernelBench's fast_p, geometric-mean speedup).

    correctness   correct tasks / ALL tasks (declined, timed-out and broken tasks count as not correct)
    fast_p        tasks that are correct AND whose speedup is strictly above p, / ALL tasks
    geomean       geometric mean of the speedups of the correct (and timed) tasks only

Each is computed twice when the bench timed torch.compile too: against eager and against compile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

FAST_P = (0.0, 0.5, 0.8, 1.0, 1.5, 2.0)

# TaskResult.status values
CORRECT = "correct"  # a candidate passed verification
INCORRECT = "incorrect"  # candidates were evaluated, none passed, at least one failed otherwise than by time
TIMED_OUT = "timeout"  # every candidate evaluated ran out of time: slow or hung, never shown wrong
DECLINED = "declined"  # the built-in generator does not cover the task
ERROR = "error"  # the task itself could not be used (did not run, not deterministic, ...)


@dataclass(frozen=True)
class TaskResult:
    """One task of a bench: its best candidate, what it cost, and the shapes it ran at."""

    name: str
    status: str
    speedup: float | None = None  # best candidate vs eager (None unless correct and timed)
    speedup_compile: float | None = None  # best candidate vs torch.compile (--baseline compile)
    candidate_ms: float | None = None
    eager_ms: float | None = None
    compile_ms: float | None = None
    candidates: int = 0  # candidates evaluated
    passed: int = 0
    best_so_far: list[float] = field(default_factory=list)  # best speedup after each evaluation (0: none yet)
    sizes: dict[str, int] = field(default_factory=dict)  # size constants changed by scaling
    input_shapes: list[list[int]] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # warnings on the best candidate (suspicious speedup ...)
    reason: str = ""  # why declined / error / incorrect
    best_candidate: str = ""
    tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0
    run_dir: str = ""

    @property
    def correct(self) -> bool:
        return self.status == CORRECT


@dataclass(frozen=True)
class Metrics:
    tasks: int
    correct: int
    fast_p: dict[float, float]  # p -> fraction of ALL tasks
    geomean: float | None  # over correct, timed tasks; None when there are none
    fast_p_compile: dict[float, float] | None = None
    geomean_compile: float | None = None
    declined: int = 0
    errors: int = 0
    timeouts: int = 0  # tasks whose every candidate timed out (counted as not correct)
    flagged: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    wall_s: float = 0.0

    @property
    def correctness(self) -> float:
        return self.correct / self.tasks if self.tasks else 0.0


def fast_p(results: list[TaskResult], p: float, compile_baseline: bool = False) -> float:
    """Fraction of ALL tasks that are correct with a speedup strictly above p."""
    if not results:
        return 0.0
    hits = 0
    for result in results:
        speedup = result.speedup_compile if compile_baseline else result.speedup
        if result.correct and speedup is not None and speedup > p:
            hits += 1
    return hits / len(results)


def geomean(values: list[float]) -> float | None:
    """Geometric mean of positive values; None for an empty list."""
    positive = [v for v in values if v is not None and v > 0]
    if not positive:
        return None
    return math.exp(sum(math.log(v) for v in positive) / len(positive))


def geomean_speedup(results: list[TaskResult], compile_baseline: bool = False) -> float | None:
    speedups = [r.speedup_compile if compile_baseline else r.speedup for r in results if r.correct]
    return geomean([s for s in speedups if s is not None])


def compute(results: list[TaskResult], thresholds: tuple[float, ...] = FAST_P) -> Metrics:
    with_compile = any(r.speedup_compile is not None for r in results)
    return Metrics(
        tasks=len(results),
        correct=sum(r.correct for r in results),
        fast_p={p: fast_p(results, p) for p in thresholds},
        geomean=geomean_speedup(results),
        fast_p_compile={p: fast_p(results, p, True) for p in thresholds} if with_compile else None,
        geomean_compile=geomean_speedup(results, True) if with_compile else None,
        declined=sum(r.status == DECLINED for r in results),
        errors=sum(r.status == ERROR for r in results),
        timeouts=sum(r.status == TIMED_OUT for r in results),
        flagged=sum(bool(r.flags) for r in results if r.correct),
        tokens=sum(r.tokens for r in results),
        cost_usd=sum(r.cost_usd for r in results),
        wall_s=sum(r.wall_s for r in results),
    )


__all__ = ["CORRECT", "DECLINED", "ERROR", "FAST_P", "INCORRECT", "TIMED_OUT", "Metrics", "TaskResult", "compute", "fast_p", "geomean", "geomean_speedup"]
