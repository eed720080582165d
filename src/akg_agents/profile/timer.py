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


# A candidate's screening measurement stops once its speedup is known to +-5%: screening only
# picks the finalists, and they are re-timed with every round, side by side against eager, before
# a winner is declared. (+-2% never settled on a 2-core VM, where a round's ratio varies ~20%.)
SETTLE_MIN_ROUNDS = 8
SETTLE_REL_HALF_WIDTH = 0.05


def ratio_settled(candidate_ms: list[float], eager_ms: list[float]) -> bool:
    """True once the median of the per-round ratios candidate/eager has a distribution-free 95%
    confidence interval (order statistics n/2 -+ 0.98*sqrt(n)) narrower than +-5% of it. Ratios
    of calls timed side by side cancel the machine's drift; on a noisy machine the interval
    stays wide and every configured round runs."""
    n = min(len(candidate_ms), len(eager_ms))
    if n < SETTLE_MIN_ROUNDS:
        return False
    ratios = sorted(c / e for c, e in zip(candidate_ms[:n], eager_ms[:n], strict=True) if e > 0)
    if len(ratios) < n:
        return False
    reach = 0.98 * n ** 0.5
    low, high = ratios[max(int(n / 2 - reach), 0)], ratios[min(int(n / 2 + reach + 0.999), n - 1)]
    middle = statistics.median(ratios)
    return middle > 0 and (high - low) / 2 <= SETTLE_REL_HALF_WIDTH * middle


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


def time_rotated(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, list[float]]:
    """Wall seconds of each call per round, one call of each per round, the order rotated every
    round (whoever runs first after another's writes finds the caches in another state): the
    benchmarks' side-by-side loop."""
    names = list(calls)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - start)
    return samples
