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
- `torch.cuda.synchronize()` (the whole device, every stream) before the end event is recorded:
  work on a side stream is inside the measurement, and the outputs are complete before anyone
  looks at them.
"""

from __future__ import annotations

import os
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

    DEVICE_TYPE = "cuda"  # torch.<DEVICE_TYPE> is the runtime API: torch.cuda here, torch.npu for Ascend

    def __init__(self, device: Any = None, flush: str | None = None) -> None:
        import torch

        self._torch = torch
        self._api: Any = getattr(torch, self.DEVICE_TYPE)
        self.device = torch.device(self.DEVICE_TYPE, self._api.current_device()) if device is None else torch.device(device)
        self.flush_mode = flush or os.environ.get("AKG_AGENTS_L2_FLUSH", "read")
        self._flush: Any = None
        if self.flush_mode != "none":
            size = max(FLUSH_FACTOR * self.l2_bytes(), MIN_FLUSH_BYTES)
            self._flush = torch.ones(size // 4, dtype=torch.int32, device=self.device)
            for _ in range(WARM_FLUSHES):  # brings the clocks up before the first timed call
                self.flush_l2()

    def l2_bytes(self) -> int:
        """The device's last-level cache, which the flush buffer must exceed."""
        return int(getattr(self._api.get_device_properties(self.device), "L2_cache_size", 0) or 0)

    def sync(self) -> None:
        self._api.synchronize(self.device)

    def flush_l2(self) -> None:
        if self._flush is None:
            return
        if self.flush_mode == "write":
            self._flush.zero_()
        else:
            self._flush.sum()  # a read of every line; the 8-byte result is discarded

    def time_one(self, fn: Callable[[], Any]) -> float:
        """Milliseconds for one call, L2 cold. The end event is recorded after a device-wide
        synchronize, so work the call queued on any stream, or from a thread before the call
        returned, is inside the measurement (the sync's own latency, a few microseconds, is paid
        by eager and candidate alike)."""
        api = self._api
        start = api.Event(enable_timing=True)
        end = api.Event(enable_timing=True)
        self.flush_l2()
        start.record()
        fn()
        api.synchronize()
        end.record()
        api.synchronize()
        return float(start.elapsed_time(end))
