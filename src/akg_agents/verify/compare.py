"""Compare candidate outputs with reference outputs, and say where they differ the most."""

from __future__ import annotations

import torch

from akg_agents.records import Mismatch

# Default tolerances by dtype (atol, rtol). Per-task overrides win.
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float32: (1e-4, 1e-4),
    torch.float64: (1e-7, 1e-7),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (1e-2, 1e-2),
}


def tolerance_for(dtype: torch.dtype, atol: float | None, rtol: float | None) -> tuple[float, float]:
    default_atol, default_rtol = TOLERANCES.get(dtype, (0.0, 0.0))  # integers and bools: exact
    return (default_atol if atol is None else atol, default_rtol if rtol is None else rtol)


def compare_outputs(
    expected: list[torch.Tensor],
    actual: list[torch.Tensor],
    seed: int,
    atol: float | None = None,
    rtol: float | None = None,
) -> Mismatch | None:
    """None when every output matches; else the worst disagreement as evidence."""
    if len(expected) != len(actual):
        return _structural(seed, 0, f"expected {len(expected)} outputs, got {len(actual)}")
    for index, (ref, out) in enumerate(zip(expected, actual, strict=True)):
        problem = _compare_one(ref, out, seed, index, atol, rtol)
        if problem is not None:
            return problem
    return None


def _structural(seed: int, index: int, detail: str) -> Mismatch:
    return Mismatch(seed, index, [], 0.0, 0.0, float("inf"), 0, 0, detail)


def _compare_one(
    ref: torch.Tensor, out: torch.Tensor, seed: int, index: int, atol: float | None, rtol: float | None
) -> Mismatch | None:
    if tuple(ref.shape) != tuple(out.shape):
        return _structural(seed, index, f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}")
    if ref.dtype != out.dtype:
        return _structural(seed, index, f"dtype {out.dtype} != expected {ref.dtype}")
    a_tol, r_tol = tolerance_for(ref.dtype, atol, rtol)
    ref, out = ref.detach(), out.detach().to(ref.device)
    # Fast path (the common case): a single fused check; the detailed analysis runs on failure only.
    if torch.equal(ref, out) or (
        ref.is_floating_point() and torch.allclose(out, ref, atol=a_tol, rtol=r_tol, equal_nan=True)
    ):
        return None
    ref64 = ref.detach().to("cpu", torch.float64)
    out64 = out.detach().to("cpu", torch.float64)
    ref_nan, out_nan = torch.isnan(ref64), torch.isnan(out64)
    # Same NaN positions, same infinities (with sign); tolerance only where both are finite.
    same_special = (ref_nan == out_nan) & (torch.isinf(ref64) == torch.isinf(out64))
    same_special &= ~torch.isinf(ref64) | (ref64 == out64)
    finite = torch.isfinite(ref64) & torch.isfinite(out64)
    err = torch.where(finite, (out64 - ref64).abs(), torch.zeros_like(ref64))
    bad = ~same_special | (finite & (err > a_tol + r_tol * ref64.abs()))
    bad_count = int(bad.sum())
    if bad_count == 0:
        return None
    # Worst element: a NaN/Inf disagreement first, else the largest error beyond tolerance.
    score = torch.where(~same_special, torch.full_like(err, float("inf")), err - r_tol * ref64.abs())
    score = torch.where(bad, score, torch.full_like(err, -float("inf")))
    flat = int(torch.argmax(score.reshape(-1)))
    element = [int(i) for i in torch.unravel_index(torch.tensor(flat), ref.shape)] if ref.dim() else []
    expected_value = float(ref64.reshape(-1)[flat])
    actual_value = float(out64.reshape(-1)[flat])
    detail = "(NaN/Inf positions differ)" if bool((~same_special).any()) else ""
    return Mismatch(
        seed=seed,
        output_index=index,
        element=element,
        expected=expected_value,
        actual=actual_value,
        abs_err=abs(actual_value - expected_value) if finite.reshape(-1)[flat] else float("inf"),
        bad_count=bad_count,
        total=ref.numel(),
        detail=detail,
    )
