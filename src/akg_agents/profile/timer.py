"""Timers. Warmup, then N timed calls; the median and the p10-p90 spread are reported.

The candidate and the eager baseline are timed interleaved (one call of each per round) in the
same process, so drift in clock speed or background load hits both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from akg_agents.records import Timing


def summarize(samples_ms: list[float]) -> Timing:
    ordered = sorted(samples_ms)
    n = len(ordered)
    p10 = ordered[int(0.1 * (n - 1))]
    p90 = ordered[int(0.9 * (n - 1))]
    return Timing(median_ms=statistics.median(ordered), spread_ms=p90 - p10, runs=n, min_ms=ordered[0])


class CpuTimer:
    def sync(self) -> None:
        return None

    def time_one(self, fn: Callable[[], Any]) -> float:
        start = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - start) / 1e6


def time_interleaved(
    fns: list[Callable[[], Any]], warmup: int, runs: int, timer: Any = None
) -> list[Timing]:
    """Time several callables round-robin; returns one Timing per callable."""
    timer = timer or CpuTimer()
    for _ in range(warmup):
        for fn in fns:
            fn()
    timer.sync()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for index, fn in enumerate(fns):
            samples[index].append(timer.time_one(fn))
    return [summarize(s) for s in samples]
