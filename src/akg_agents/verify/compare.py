"""Compare candidate outputs with reference outputs where they live (GPU or CPU), in chunks.

Tolerances are scaled to the output's magnitude: an element passes when

    |actual - expected| <= atol * scale + rtol * |expected|,   scale = RMS of the finite expected values

A bare absolute floor (`atol=1e-4`) accepts anything for outputs of magnitude 1e-4 (a softmax over
16k columns), so an fp32 task computed in fp16 would pass; scaled, it fails. NaN and Inf positions
(and the sign of infinities) must match. Integer and bool outputs must match exactly.

Large outputs (KernelBench level 1 has 6.4 GB ones) are compared in chunks on their own device:
nothing is copied to the host except the worst element's two values.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from akg_agents.records import Mismatch

CHUNK_ELEMENTS = 1 << 24  # 16M elements: 128 MB of float64 temporaries per chunk


@dataclass(frozen=True)
class Tolerance:
    atol: float  # times the reference's RMS magnitude, unless `absolute`
    rtol: float
    absolute: bool = False  # a per-task override given in absolute units


# By the dtype of the output: (atol relative to RMS, rtol).
TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float32: (1e-4, 1e-4),
    torch.float64: (1e-7, 1e-7),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (2e-2, 2e-2),
}
# fp32 tasks that allow TF32 matrix math (10-bit mantissa, like fp16): the task's own choice.
TF32_TOLERANCE = (5e-3, 5e-3)


def tolerance_for(dtype: torch.dtype, atol: float | None = None, rtol: float | None = None,
                  allow_tf32: bool = False) -> Tolerance:
    """The tolerance an output of `dtype` is held to; per-task overrides (absolute) win."""
    default = TF32_TOLERANCE if allow_tf32 and dtype == torch.float32 else TOLERANCES.get(dtype, (0.0, 0.0))
    if atol is not None:
        return Tolerance(atol, default[1] if rtol is None else rtol, absolute=True)
    return Tolerance(default[0], default[1] if rtol is None else rtol)


def compare_outputs(
    expected: list[torch.Tensor],
    actual: list[torch.Tensor],
    seed: int,
    atol: float | None = None,
    rtol: float | None = None,
    allow_tf32: bool = False,
) -> Mismatch | None:
    """None when every output matches; else the worst disagreement as evidence."""
    if len(expected) != len(actual):
        return _structural(seed, 0, f"expected {len(expected)} outputs, got {len(actual)}")
    for index, (ref, out) in enumerate(zip(expected, actual, strict=True)):
        problem = compare_tensor(ref, out, seed, index, tolerance_for(ref.dtype, atol, rtol, allow_tf32))
        if problem is not None:
            return problem
    return None


def _structural(seed: int, index: int, detail: str) -> Mismatch:
    return Mismatch(seed, index, [], 0.0, 0.0, float("inf"), 0, 0, detail)


def rms(ref: torch.Tensor) -> float:
    """Root mean square of the finite values (the magnitude tolerances scale with), chunked."""
    flat = ref.detach().reshape(-1)
    total, count = 0.0, 0
    for start in range(0, flat.numel(), CHUNK_ELEMENTS):
        part = flat[start:start + CHUNK_ELEMENTS].double()
        finite = torch.isfinite(part)
        total += float(torch.where(finite, part * part, torch.zeros_like(part)).sum())
        count += int(finite.sum())
    return (total / count) ** 0.5 if count else 0.0


@dataclass
class _Worst:
    score: float = -float("inf")
    flat: int = -1
    expected: float = 0.0
    actual: float = 0.0
    special: bool = False


def compare_tensor(ref: torch.Tensor, out: torch.Tensor, seed: int, index: int, tol: Tolerance,
                   scale: float | None = None) -> Mismatch | None:
    """`scale`: the reference's RMS when the caller already knows it (it is then not recomputed)."""
    if tuple(ref.shape) != tuple(out.shape):
        return _structural(seed, index, f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}")
    if ref.dtype != out.dtype:
        return _structural(seed, index, f"dtype {out.dtype} != expected {ref.dtype}")
    ref_flat = ref.detach().reshape(-1)
    out_flat = out.detach().to(ref.device).reshape(-1)
    exact = not (ref.is_floating_point() or ref.is_complex())
    atol: float | None = 0.0 if exact else tol.atol if tol.absolute else None  # None: scaled, computed when first needed
    worst, bad_count, special_seen = _Worst(), 0, False
    for start in range(0, ref_flat.numel(), CHUNK_ELEMENTS):
        r, o = ref_flat[start:start + CHUNK_ELEMENTS], out_flat[start:start + CHUNK_ELEMENTS]
        if torch.equal(r, o):
            continue
        if atol is None:
            # The RMS pass costs as much as the comparison itself: an output equal to the
            # reference (most timed calls of a correct kernel) never pays for it.
            atol = tol.atol * max(rms(ref_flat) if scale is None else scale, torch.finfo(ref.dtype).tiny)
        if exact:
            count, special = _exact_chunk(r, o, start, worst)
        elif _within(r, o, atol, tol.rtol):
            continue
        else:
            count, special = _float_chunk(r, o, start, atol, tol.rtol, worst)
        bad_count += count
        special_seen |= special
    if bad_count == 0:
        return None
    assert atol is not None  # a chunk differed, so the tolerance was computed
    element = [int(i) for i in torch.unravel_index(torch.tensor(worst.flat), ref.shape)] if ref.dim() else []
    finite_pair = not worst.special
    return Mismatch(
        seed=seed, output_index=index, element=element, expected=worst.expected, actual=worst.actual,
        abs_err=abs(worst.actual - worst.expected) if finite_pair else float("inf"),
        bad_count=bad_count, total=ref.numel(),
        detail="(NaN/Inf positions differ)" if special_seen else f"(tolerance {atol:.3g} + {tol.rtol:g}*|expected|)",
    )


_BIT_VIEWS = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Bit for bit the same values: "unchanged" means no element written differently (a NaN is
    equal to itself here, and -0.0 differs from 0.0). Read in place through an integer view, so
    no temporary copies of a large input are made."""
    if a.shape != b.shape or a.dtype != b.dtype or a.device != b.device:
        return False
    view = _BIT_VIEWS.get(a.element_size()) if (a.is_floating_point() or a.is_complex()) else None
    if view is not None:
        try:
            return torch.equal(a.view(view), b.view(view))
        except RuntimeError:
            pass  # a strided view that cannot be reinterpreted: compare the values
        return torch.equal(torch.nan_to_num(a), torch.nan_to_num(b)) and bool((a.isnan() == b.isnan()).all())
    return torch.equal(a, b)


def _exact_chunk(r: torch.Tensor, o: torch.Tensor, start: int, worst: _Worst) -> tuple[int, bool]:
    bad = r != o
    count = int(bad.sum())
    if count and worst.score < float("inf"):
        diff = torch.where(bad, (o.double() - r.double()).abs(), torch.full_like(r, -1, dtype=torch.float64))
        at = int(torch.argmax(diff))
        if float(diff[at]) > worst.score:
            worst.score, worst.flat = float(diff[at]), start + at
            worst.expected, worst.actual = float(r[at]), float(o[at])
    return count, False


def _within(r: torch.Tensor, o: torch.Tensor, atol: float, rtol: float) -> bool:
    """Fast path in the outputs' own dtype: True only when every element is within tolerance.
    Any NaN or Inf makes it False (NaN compares false), and the exact analysis below decides."""
    diff = torch.sub(o, r).abs_()
    limit = torch.abs(r).mul_(rtol).add_(atol).nan_to_num_(nan=0.0, posinf=0.0)  # infinities: exact path
    return bool(diff.le_(limit).all())


def _float_chunk(r: torch.Tensor, o: torch.Tensor, start: int, atol: float, rtol: float, worst: _Worst) -> tuple[int, bool]:
    r64, o64 = r.double(), o.double()
    same_special = (torch.isnan(r64) == torch.isnan(o64)) & (torch.isinf(r64) == torch.isinf(o64))
    same_special &= ~torch.isinf(r64) | (r64 == o64)
    finite = torch.isfinite(r64) & torch.isfinite(o64)
    err = torch.where(finite, (o64 - r64).abs(), torch.zeros_like(r64))
    limit = atol + rtol * r64.abs()
    bad = ~same_special | (finite & (err > limit))
    count = int(bad.sum())
    if count == 0:
        return 0, False
    special = bool((~same_special).any())
    # Worst element: a NaN/Inf disagreement first, else the largest excess over the tolerance.
    score = torch.where(~same_special, torch.full_like(err, float("inf")), err - limit)
    score = torch.where(bad, score, torch.full_like(err, -float("inf")))
    at = int(torch.argmax(score))
    if float(score[at]) > worst.score:
        worst.score, worst.flat = float(score[at]), start + at
        worst.expected, worst.actual = float(r64[at]), float(o64[at])
        worst.special = not bool(finite[at])
    return count, special
