"""Compare candidate outputs with reference outputs where they live (GPU or CPU), in chunks.

Tolerances are scaled to the output's magnitude: an element passes when

    |actual - expected| <= atol * scale + rtol * |expected|,   scale = RMS of the finite expected values

A bare absolute floor (`atol=1e-4`) accepts anything for outputs of magnitude 1e-4 (a softmax over
16k columns), so an fp32 task computed in fp16 would pass; scaled, it fails. NaN and Inf positions
(and the sign of infinities) must match. Integer and bool outputs must match exactly.

Large outputs (KernelBench level 1 has 6.4 GB ones) are compared in chunks on their own device:
nothing is copied to the host except the worst element's two values.

The reference's own error: on cancelling reductions PyTorch's fp32 output is itself off the exact
result by more than the tolerance (a row variance written E[x^2] - E[x]^2 over 65536 values near
100: wrong on 3363 of 4096 rows on an H200), so a kernel more accurate than PyTorch would be
rejected. (KernelBench's own Frobenius norm, suspected first, is accurate there: 4e-8 relative.) Given the float64
recomputation's `correction` (ref64 - ref, see `reference_error`), an element passes when

    |actual - ref64| <= atol * scale + rtol * max(|ref|, |ref64|) + |ref - ref64|

that is: as wrong as PyTorch's own output is, plus the usual tolerance; no more. Where PyTorch's
output is accurate, so must the candidate's be. NaN and Inf positions still follow `ref`. A
reference whose error is beyond rounding (`reference_error_problem`: E[x^2] - E[x]^2 in fp16 is
off by 3x its own magnitude) gets no allowance: anything would pass. Nor does an element whose
own error is beyond rounding (more than that limit of its exact value), however accurate the rest
of the output: there the candidate must match the float64 value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from akg_agents.records import Mismatch

CHUNK_ELEMENTS = 1 << 24  # 16M elements: 128 MB of float64 temporaries per chunk
# Reference dtypes whose rounding error a float64 recomputation can measure, and the most of it
# (RMS, relative to the reference's RMS) that is still rounding: an fp32 reference off by fp16's
# tolerance, or an fp16/bf16 one by 5x its own, is no reference at that precision. (Measured: an
# fp32 E[x^2]-E[x]^2 over 4096 values near 100 is off by 1.1e-3; fp16/bf16 softmax and matmul by
# 2e-4/1.7e-3; the fp16 variance by 3.1.)
REJUDGED_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
REFERENCE_ERROR_LIMITS = {torch.float32: 1e-2, torch.float16: 5e-2, torch.bfloat16: 1e-1}
DTYPE_WORDS = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


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


def reference_error(ref: torch.Tensor, ref64: torch.Tensor, store: str | torch.device = "cpu") -> torch.Tensor | None:
    """ref64 - ref as float32, kept on `store` (host memory by default: a GPU's memory is the
    candidates'), computed in chunks; 0 where either value is not finite or the difference does
    not fit float32 (no allowance there). None when `ref` is not a float16/bfloat16/float32 output
    or `ref64` does not have its shape. Half the memory of keeping ref64 itself: ref + correction
    is ref64 to float32's relative precision of the difference, far below any tolerance."""
    if ref.dtype not in REJUDGED_DTYPES or tuple(ref64.shape) != tuple(ref.shape) or not ref64.is_floating_point():
        return None
    ref_flat, ref64_flat = ref.detach().reshape(-1), ref64.detach().reshape(-1)
    correction = torch.empty(ref_flat.numel(), dtype=torch.float32, device=store)
    for start in range(0, ref_flat.numel(), CHUNK_ELEMENTS):
        r = ref_flat[start:start + CHUNK_ELEMENTS].double()
        t = ref64_flat[start:start + CHUNK_ELEMENTS].to(device=r.device, dtype=torch.float64)
        d = (t - r).float()
        d = torch.where(torch.isfinite(r) & torch.isfinite(t) & torch.isfinite(d), d, torch.zeros_like(d))
        correction[start:start + CHUNK_ELEMENTS].copy_(d)
    return correction.view(ref.shape)


def reference_error_problem(ref: torch.Tensor, correction: torch.Tensor) -> str | None:
    """Why `correction` (from `reference_error`) is too large to be allowed as rounding, or None."""
    off = rms(correction) / max(rms(ref), torch.finfo(ref.dtype).tiny)
    limit = REFERENCE_ERROR_LIMITS[ref.dtype]
    if off <= limit:
        return None
    word = DTYPE_WORDS[ref.dtype]
    return (f"PyTorch's {word} output is off the float64 one by {off:.2g} of its RMS magnitude (more than {limit:g}): "
            f"beyond rounding, the task is ill-conditioned at {word}, so no allowance is made")


def compare_tensor(ref: torch.Tensor, out: torch.Tensor, seed: int, index: int, tol: Tolerance,
                   scale: float | None = None, correction: torch.Tensor | None = None) -> Mismatch | None:
    """`scale`: the reference's RMS when the caller already knows it (it is then not recomputed).
    `correction`: the reference's own error from `reference_error` (float outputs only); the
    output is then held to the float64 reference, with that error as extra allowance."""
    if tuple(ref.shape) != tuple(out.shape):
        return _structural(seed, index, f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}")
    if ref.dtype != out.dtype:
        return _structural(seed, index, f"dtype {out.dtype} != expected {ref.dtype}")
    ref_flat = ref.detach().reshape(-1)
    out_flat = out.detach().to(ref.device).reshape(-1)
    exact = not (ref.is_floating_point() or ref.is_complex())
    corr_flat = None if exact or correction is None else correction.detach().reshape(-1)
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
            continue  # within tolerance of `ref` is within the float64 allowance too
        else:
            c = None if corr_flat is None else corr_flat[start:start + CHUNK_ELEMENTS].to(r.device)
            count, special = _float_chunk(r, o, start, atol, tol.rtol, worst, c)
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
        detail="(NaN/Inf positions differ)" if special_seen else f"(tolerance {atol:.3g} + {tol.rtol:g}*|expected|"
        + (" + |PyTorch reference's own error|, expected = the float64 reference)" if corr_flat is not None else ")"),
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


def _float_chunk(r: torch.Tensor, o: torch.Tensor, start: int, atol: float, rtol: float, worst: _Worst,
                 c: torch.Tensor | None = None) -> tuple[int, bool]:
    r64, o64 = r.double(), o.double()
    same_special = (torch.isnan(r64) == torch.isnan(o64)) & (torch.isinf(r64) == torch.isinf(o64))
    same_special &= ~torch.isinf(r64) | (r64 == o64)
    finite = torch.isfinite(r64) & torch.isfinite(o64)
    if c is None:
        err = torch.where(finite, (o64 - r64).abs(), torch.zeros_like(r64))
        limit = atol + rtol * r64.abs()
    else:  # against the float64 reference, PyTorch's own error allowed on top (module docstring)
        c64 = c.double()
        true64 = r64 + c64
        # Only rounding is allowed, element by element: where PyTorch is off by more than the
        # dtype's limit of the exact value (a meaningless output, however small the whole
        # output's RMS error), the candidate is held to the float64 value itself.
        # (its garbage magnitude does not widen the relative tolerance there either)
        rounding = c64.abs() <= REFERENCE_ERROR_LIMITS.get(r.dtype, 0.0) * true64.abs()
        c64 = torch.where(rounding, c64, torch.zeros_like(c64))
        err = torch.where(finite, (o64 - true64).abs(), torch.zeros_like(r64))
        magnitude = torch.where(rounding, torch.maximum(r64.abs(), true64.abs()), true64.abs())
        limit = atol + rtol * magnitude + c64.abs()
        # an element within the tolerance of PyTorch's own output passes as it always did
        limit = torch.where((o64 - r64).abs() <= atol + rtol * r64.abs(), torch.maximum(limit, err), limit)
        r64 = torch.where(torch.isfinite(true64), true64, r64)  # the worst element's expected value
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
