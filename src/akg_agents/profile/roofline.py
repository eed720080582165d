"""Roofline floor: the least time a kernel can take on a GPU, from bytes moved and FLOPs.

    floor = max(bytes / DRAM bandwidth, flops / peak rate of the dtype)

The verifier flags a candidate timed below its floor: it skipped work, read cached results or
escaped the timer; no real kernel beats the datasheet. The floor is deliberately generous, so a
flag means "impossible", not "suspicious":
- bytes = every input and parameter read once + the part of the outputs that cannot stay in L2
  (the timer flushes L2 before each call, but a kernel's writes may still sit in L2 when the
  end event fires);
- FLOPs = matrix products and convolutions only (torch's FlopCounterMode); pointwise work is
  treated as free;
- fp32 uses the TF32 tensor-core rate (Triton's `tl.dot` on fp32 uses TF32 by default).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any

TOLERANCE = 0.95  # flag below 95% of the floor: timer noise never crosses that


@dataclass(frozen=True)
class Arch:
    name: str
    match: tuple[str, ...]
    sms: int
    mem_bandwidth_gbs: float
    peak_tflops: dict[str, float]
    smem_per_sm_kb: int
    l2_mb: float

    def peak_flops(self, dtype: str) -> float:
        """FLOP/s ceiling for math in `dtype` (the fastest unit that can do it)."""
        rates = self.peak_tflops
        if dtype in ("fp32", "float32"):
            best = max(rates.get("fp32", 0.0), rates.get("tf32", 0.0))
        else:
            best = rates.get(_short(dtype), max(rates.values()))
        return best * 1e12


@functools.lru_cache(maxsize=1)
def load_arches() -> dict[str, Arch]:
    import yaml

    text = resources.files("akg_agents.config").joinpath("arch.yaml").read_text()
    data = yaml.safe_load(text)
    return {
        name: Arch(
            name=name,
            match=tuple(facts.get("match", [])),
            sms=int(facts["sms"]),
            mem_bandwidth_gbs=float(facts["mem_bandwidth_gbs"]),
            peak_tflops={k: float(v) for k, v in facts["peak_tflops"].items()},
            smem_per_sm_kb=int(facts["smem_per_sm_kb"]),
            l2_mb=float(facts["l2_mb"]),
        )
        for name, facts in data.items()
    }


def arch_for_device(device_name: str) -> Arch | None:
    """`NVIDIA H100 80GB HBM3` -> the h100 entry; None for a GPU we have no facts for."""
    for arch in load_arches().values():
        if any(token in device_name for token in arch.match):
            return arch
    return None


def min_time_ms(arch: Arch, bytes_moved: float, flops: float, dtype: str = "fp32") -> float:
    memory_s = bytes_moved / (arch.mem_bandwidth_gbs * 1e9)
    compute_s = flops / arch.peak_flops(dtype) if flops > 0 else 0.0
    return max(memory_s, compute_s) * 1e3


def _short(dtype: str) -> str:
    return {"float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float32": "fp32", "float": "fp32"}.get(dtype, dtype)


# -- measuring a task (torch needed from here on; imported inside functions) ---------------------


def tensor_bytes(values: Any) -> int:
    """Bytes of the distinct tensors in `values` (a tensor, list, tuple or module)."""
    import torch

    seen: set[tuple[int, int]] = set()
    total = 0
    items = list(values.parameters()) + list(values.buffers()) if isinstance(values, torch.nn.Module) else values
    for value in items if isinstance(items, (list, tuple)) else [items]:
        if isinstance(value, torch.Tensor):
            key = (value.data_ptr(), value.numel())
            if key not in seen:
                seen.add(key)
                total += value.numel() * value.element_size()
    return total


def estimate_flops(fn: Any) -> int:
    """Matrix-product and convolution FLOPs of one call (0 when there are none)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn()
    return int(counter.get_total_flops())


def dominant_dtype(values: list[Any]) -> str:
    import torch

    floats = [v for v in values if isinstance(v, torch.Tensor) and v.is_floating_point()]
    if not floats:
        return "fp32"
    biggest = max(floats, key=lambda t: t.numel())
    return _short(str(biggest.dtype).replace("torch.", ""))


def floor_for_call(arch: Arch, model: Any, inputs: list[Any], outputs: list[Any], flops: int) -> float:
    """The roofline floor (ms) of `model(*inputs)` producing `outputs` on `arch`."""
    l2_bytes = arch.l2_mb * 1e6
    read = tensor_bytes(inputs) + (tensor_bytes(model) if hasattr(model, "parameters") else 0)
    written = max(tensor_bytes(outputs) - l2_bytes, 0.0)
    return min_time_ms(arch, read + written, flops, dominant_dtype(inputs))


def roofline_flag(candidate_ms: float, floor_ms: float, arch_name: str) -> str | None:
    if floor_ms > 0 and candidate_ms < TOLERANCE * floor_ms:
        return (
            f"below the roofline: {candidate_ms:.4f} ms measured, but {arch_name} needs at least "
            f"{floor_ms:.4f} ms to move the data and do the math; the kernel skips work or escapes the timer"
        )
    return None
