"""Warnings a GPU timing earns, for ProfileResult.flags (inside the worker, after timing).

- below the roofline floor (profile/roofline.py): the measured time is physically impossible;
- work outside the timed stream (profile/cuda_timer.py): the device stayed busy after the
  current stream's end event, so some work ran on another stream or was queued by a thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from akg_agents.profile.cuda_timer import CudaTimer, escape_flag
from akg_agents.profile.roofline import arch_for_device, estimate_flops, floor_for_call, roofline_flag


def gpu_flags(
    timer: CudaTimer,
    candidate: Callable[[], Any],
    reference: Callable[[], Any],
    model: Any,
    inputs: list[Any],
    outputs: list[Any],
    candidate_ms: float,
) -> list[str]:
    import torch

    flags: list[str] = []
    escaped = escape_flag(timer, candidate)
    if escaped:
        flags.append(escaped)
    arch = arch_for_device(torch.cuda.get_device_name())
    if arch is not None:
        floor = floor_for_call(arch, model, inputs, outputs, estimate_flops(reference))
        below = roofline_flag(candidate_ms, floor, arch.name)
        if below:
            flags.append(below)
    return flags
