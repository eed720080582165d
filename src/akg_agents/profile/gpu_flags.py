"""The roofline check a device timing gets (inside the worker, after timing).

A time below the roofline floor (profile/roofline.py) is physically impossible: the kernel skipped
work, reused results or escaped the timer. It is flagged and never counted as a speedup.
(Work on other streams or threads cannot escape the timer: every timed call ends with a
device-wide synchronize before its end event.) The backend plugin calls it with the name its
runtime reports (torch.cuda / torch.npu `get_device_name()`), matched against arch.yaml.
"""

from __future__ import annotations

from typing import Any

from akg_agents.profile.roofline import arch_for_device, estimate_flops, floor_for_call, roofline_flag


def roofline_check(model: Any, inputs: list[Any], outputs: list[Any], candidate_ms: float, device_name: str) -> str | None:
    """A flag when `candidate_ms` is below the floor of this call on the device named `device_name`."""
    arch = arch_for_device(device_name)
    if arch is None:
        return None
    floor = floor_for_call(arch, model, inputs, outputs, estimate_flops(lambda: model(*inputs)))
    return roofline_flag(candidate_ms, floor, arch.name)
