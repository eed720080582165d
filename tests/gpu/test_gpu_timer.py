"""CudaTimer on a real GPU: sane times, L2 flush, and work on a side stream is inside the timing."""

from __future__ import annotations

import statistics

import pytest
import torch

from akg_agents.profile.cuda_timer import CudaTimer
from akg_agents.profile.timer import time_interleaved

pytestmark = pytest.mark.gpu


def test_bigger_copies_take_longer() -> None:
    timer = CudaTimer()
    small = torch.randn(1 << 20, device="cuda")
    big = torch.randn(1 << 26, device="cuda")
    t_small, t_big = time_interleaved([lambda: small.clone(), lambda: big.clone()], 3, 10, timer)
    assert 0 < t_small.median_ms < t_big.median_ms
    # 512 MB moved (read + write); no GPU of ours does that in under 0.05 ms
    assert t_big.median_ms > 0.05


def test_flush_buffer_exceeds_l2() -> None:
    timer = CudaTimer()
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    assert timer._flush.numel() * 4 > l2


def test_work_on_a_side_stream_is_timed() -> None:
    timer = CudaTimer()
    a = torch.randn(4096, 4096, device="cuda")
    side = torch.cuda.Stream()

    def sneaky() -> None:  # queues the real work on another stream and returns at once
        with torch.cuda.stream(side):
            for _ in range(20):
                a @ a

    def honest() -> None:
        for _ in range(20):
            a @ a

    sneaky_ms = statistics.median(timer.time_one(sneaky) for _ in range(5))
    honest_ms = statistics.median(timer.time_one(honest) for _ in range(5))
    assert sneaky_ms > 0.8 * honest_ms, (sneaky_ms, honest_ms)
