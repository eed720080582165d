"""CUDA timer: events around each call, an L2 flush before it, a device-wide sync after it.

`time_interleaved` (profile/timer.py) drives it exactly like the CPU timer:

    timer = CudaTimer()
    timer.sync()
    ms = timer.time_one(lambda: model(*inputs))

Why each step:
- L2 flush: H100 has 50 MB of L2. A task whose inputs fit would otherwise be timed from cache on
  every call after the first, which a real model step never sees. Touching a buffer twice the L2
  size evicts everything before the start event is recorded.
- Events, not host clocks: the call returns as soon as its kernels are queued; events recorded on
  the same stream measure when the GPU really started and finished.
- `torch.cuda.synchronize()` (the whole device, every stream) before the end event is read: the
  outputs are complete before anyone looks at them, and an event query never races the kernel.

`escaped_work_ms` is a cheap runtime check for kernels that do their work on another stream or
thread: it times the call twice, once ending at an event on the current stream and once ending
after a device-wide sync; work the first measurement cannot see shows up as a difference.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from typing import Any

FLUSH_FACTOR = 2  # flush buffer = FLUSH_FACTOR x L2 size
MIN_FLUSH_BYTES = 64 * 1024 * 1024
WARM_FLUSHES = 100  # ~5 ms of memory traffic before the first timed call


class CudaTimer:
    """`flush`: "read" (default), "write" or "none"; AKG_AGENTS_L2_FLUSH overrides the default.

    A write flush (what triton's do_bench does: `buffer.zero_()`) leaves L2 full of dirty lines
    that the timed kernel then pays to write back; a read flush (a sum over the buffer) leaves
    clean lines that are simply dropped. Both evict the candidate's data.
    """

    def __init__(self, device: Any = None, flush: str | None = None) -> None:
        import torch

        self._torch = torch
        self.device = torch.device("cuda", torch.cuda.current_device()) if device is None else torch.device(device)
        self.flush_mode = flush or os.environ.get("AKG_AGENTS_L2_FLUSH", "read")
        self._flush: Any = None
        if self.flush_mode != "none":
            l2 = int(getattr(torch.cuda.get_device_properties(self.device), "L2_cache_size", 0) or 0)
            size = max(FLUSH_FACTOR * l2, MIN_FLUSH_BYTES)
            self._flush = torch.ones(size // 4, dtype=torch.int32, device=self.device)
            for _ in range(WARM_FLUSHES):  # brings the clocks up before the first timed call
                self.flush_l2()

    def sync(self) -> None:
        self._torch.cuda.synchronize(self.device)

    def flush_l2(self) -> None:
        if self._flush is None:
            return
        if self.flush_mode == "write":
            self._flush.zero_()
        else:
            self._flush.sum()  # a read of every line; the 8-byte result is discarded

    def time_one(self, fn: Callable[[], Any]) -> float:
        """Milliseconds for one call, L2 cold, measured between events on the current stream."""
        torch = self._torch
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        self.flush_l2()
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()  # every stream of the device, not only the event's
        return float(start.elapsed_time(end))

    def time_one_device_wide(self, fn: Callable[[], Any]) -> float:
        """Like time_one, but the end event is recorded after a device-wide sync.

        It includes work on any stream (and a sync's latency, a few microseconds).
        """
        torch = self._torch
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        self.flush_l2()
        start.record()
        fn()
        torch.cuda.synchronize()
        end.record()
        torch.cuda.synchronize()
        return float(start.elapsed_time(end))

    def escaped_work_ms(self, fn: Callable[[], Any], runs: int = 5) -> float:
        """How much longer the device was busy than the current stream's events show (ms).

        Near zero for honest kernels; large when the call queued work on another stream or in a
        thread that the events on the current stream never waited for. The empty call's sync
        latency is subtracted so the figure is about the candidate, not the driver.
        """
        self.sync()
        nothing = statistics.median(self.time_one_device_wide(lambda: None) for _ in range(runs))
        stream = statistics.median(self.time_one(fn) for _ in range(runs))
        device = statistics.median(self.time_one_device_wide(fn) for _ in range(runs))
        return max(device - nothing - stream, 0.0)


def escape_flag(timer: CudaTimer, fn: Callable[[], Any], ratio: float = 1.5, floor_ms: float = 0.05) -> str | None:
    """A flag for ProfileResult when work escaped the timed stream, else None."""
    extra = timer.escaped_work_ms(fn)
    stream = statistics.median(timer.time_one(fn) for _ in range(3))
    if extra > floor_ms and extra > (ratio - 1.0) * stream:
        return (
            f"work outside the timed stream: the device stayed busy {extra:.3f} ms after the "
            f"stream's end event ({stream:.3f} ms); other streams or threads?"
        )
    return None
