"""Roofline floor and flags (CPU only: arch facts are data, tensors live on the CPU here)."""

from __future__ import annotations

import pytest
import torch

from akg_agents.profile.roofline import (
    arch_for_device,
    estimate_flops,
    floor_for_call,
    load_arches,
    min_time_ms,
    roofline_flag,
)


def test_every_arch_has_the_facts_we_use() -> None:
    arches = load_arches()
    assert {"h100", "h200", "a100", "l40s", "rtx4090"} <= set(arches)
    for arch in arches.values():
        assert arch.sms > 0 and arch.mem_bandwidth_gbs > 0 and arch.l2_mb > 0 and arch.smem_per_sm_kb > 0
        assert {"fp32", "fp16", "bf16"} <= set(arch.peak_tflops)


def test_device_names_map_to_arches() -> None:
    assert arch_for_device("NVIDIA H100 80GB HBM3").name == "h100"
    assert arch_for_device("NVIDIA H200").name == "h200"
    assert arch_for_device("NVIDIA A100-SXM4-80GB").name == "a100"
    assert arch_for_device("NVIDIA GeForce RTX 4090").name == "rtx4090"
    assert arch_for_device("Tesla T4") is None


def test_floor_is_the_larger_of_memory_and_compute() -> None:
    h100 = load_arches()["h100"]
    # 1 GB moved at 3352 GB/s: about 0.298 ms, no math
    assert min_time_ms(h100, 1e9, 0) == pytest.approx(1e3 / 3352, rel=1e-6)
    # 8192^3 fp16 product: 2 * 8192^3 FLOPs at 989.4 TFLOP/s = 1.11 ms, more than its 400 MB of I/O
    flops = 2 * 8192**3
    assert min_time_ms(h100, 3 * 8192 * 8192 * 2, flops, "fp16") == pytest.approx(flops / 989.4e12 * 1e3)
    # fp32 math is bounded by the TF32 tensor-core rate (a tl.dot may use it), not the CUDA cores
    assert min_time_ms(h100, 0, flops, "fp32") == pytest.approx(flops / 494.7e12 * 1e3)


def test_floor_for_a_call_counts_inputs_params_and_outputs_past_l2() -> None:
    h100 = load_arches()["h100"]
    model = torch.nn.Linear(1024, 1024)
    x = torch.randn(4096, 1024)
    out = model(x)
    flops = estimate_flops(lambda: model(x))
    assert flops == 2 * 4096 * 1024 * 1024
    floor = floor_for_call(h100, model, [x], [out], flops)
    memory_only = (x.numel() * 4 + sum(p.numel() for p in model.parameters()) * 4) / 3352e9 * 1e3
    assert floor == pytest.approx(max(memory_only, flops / 494.7e12 * 1e3))


def test_flag_only_below_the_floor() -> None:
    assert roofline_flag(0.05, 0.1, "h100") is not None
    assert "below the roofline" in (roofline_flag(0.05, 0.1, "h100") or "")
    assert roofline_flag(0.098, 0.1, "h100") is None  # timer noise is not a flag
    assert roofline_flag(0.2, 0.1, "h100") is None
