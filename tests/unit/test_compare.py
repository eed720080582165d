from __future__ import annotations

import torch

from akg_agents.verify.compare import compare_outputs


def test_equal_within_fp32_tolerance() -> None:
    ref = torch.randn(8, 8)
    assert compare_outputs([ref], [ref + 1e-6], seed=0) is None


def test_worst_element_is_reported_with_index_and_values() -> None:
    ref = torch.zeros(4, 5)
    out = ref.clone()
    out[2, 3] = 0.5
    out[1, 1] = 0.01
    mismatch = compare_outputs([ref], [out], seed=1)
    assert mismatch is not None
    assert mismatch.element == [2, 3] and mismatch.actual == 0.5 and mismatch.bad_count == 2


def test_nan_positions_must_match() -> None:
    ref = torch.tensor([1.0, float("nan"), 3.0])
    assert compare_outputs([ref], [ref.clone()], seed=0) is None
    moved = torch.tensor([float("nan"), 2.0, 3.0])
    mismatch = compare_outputs([ref], [moved], seed=0)
    assert mismatch is not None and "NaN" in mismatch.detail


def test_infinities_must_match_in_sign() -> None:
    ref = torch.tensor([float("inf"), 1.0])
    assert compare_outputs([ref], [torch.tensor([-float("inf"), 1.0])], seed=0) is not None


def test_shape_dtype_and_count_are_checked() -> None:
    ref = torch.zeros(2, 3)
    assert "shape" in compare_outputs([ref], [torch.zeros(3, 2)], seed=0).detail  # type: ignore[union-attr]
    assert "dtype" in compare_outputs([ref], [torch.zeros(2, 3, dtype=torch.float64)], seed=0).detail  # type: ignore[union-attr]
    assert "outputs" in compare_outputs([ref], [ref, ref], seed=0).detail  # type: ignore[union-attr]


def test_task_tolerance_overrides_the_dtype_default() -> None:
    ref = torch.ones(3)
    assert compare_outputs([ref], [ref + 1e-3], seed=0) is not None
    assert compare_outputs([ref], [ref + 1e-3], seed=0, atol=1e-2, rtol=0.0) is None


def test_half_precision_uses_a_looser_default() -> None:
    ref = torch.ones(3, dtype=torch.float16)
    assert compare_outputs([ref], [ref + 0.005], seed=0) is None


def test_tolerance_scales_with_the_output_magnitude() -> None:
    # A softmax over 4096 columns has outputs near 2.4e-4: a bare absolute floor of 1e-4 would
    # accept an fp16 computation; scaled to the outputs' RMS it must not.
    torch.manual_seed(0)
    logits = torch.randn(64, 4096, dtype=torch.float64)
    ref = torch.softmax(logits, dim=1).float()
    in_half = torch.softmax(logits.half().float(), dim=1).half().float()
    reordered = torch.softmax(logits.float(), dim=1)  # fp32 all the way, another summation order
    assert compare_outputs([ref], [reordered], seed=0) is None
    mismatch = compare_outputs([ref], [in_half], seed=0)
    assert mismatch is not None and mismatch.bad_count > 1000


def test_tf32_is_accepted_only_when_the_task_allows_it() -> None:
    torch.manual_seed(0)
    a, b = torch.randn(128, 512, dtype=torch.float64), torch.randn(512, 128, dtype=torch.float64)
    ref = (a @ b).float()

    def tf32(x: torch.Tensor) -> torch.Tensor:  # keep 10 mantissa bits, as TF32 tensor cores do
        return (x.float().view(torch.int32) & ~0x1FFF).view(torch.float32).double()

    out = (tf32(a) @ tf32(b)).float()
    assert compare_outputs([ref], [out], seed=0) is not None
    assert compare_outputs([ref], [out], seed=0, allow_tf32=True) is None


def test_large_outputs_are_compared_in_chunks_with_the_worst_element(monkeypatch) -> None:
    import akg_agents.verify.compare as compare

    monkeypatch.setattr(compare, "CHUNK_ELEMENTS", 1000)
    ref = torch.randn(50, 100)
    out = ref.clone()
    out[3, 7] += 0.5
    out[42, 99] += 5.0  # in another chunk, and worse
    mismatch = compare_outputs([ref], [out], seed=0)
    assert mismatch is not None and mismatch.element == [42, 99] and mismatch.bad_count == 2


def test_same_bits_sees_any_write_and_accepts_nan_left_alone() -> None:
    from akg_agents.verify.compare import same_bits

    x = torch.randn(64, 33)
    x[5, 5] = float("nan")
    kept = x.clone()
    assert same_bits(kept, x)  # NaN == NaN here: the input was not touched
    x[0, 0] = -0.0 if float(x[0, 0]) == 0.0 else 0.0
    assert not same_bits(kept, x)
    y = kept.clone()
    y.view(torch.int32)[7, 3] ^= 1  # one flipped low bit of one element
    assert not same_bits(kept, y)
    assert same_bits(kept.t(), kept.clone().t())  # strided views are read in place
    assert not same_bits(kept, kept.double())  # dtype differs
    assert same_bits(torch.arange(5), torch.arange(5)) and not same_bits(torch.arange(5), torch.arange(1, 6))


def test_a_correct_output_skips_the_tolerance_pass(monkeypatch) -> None:
    import akg_agents.verify.compare as compare

    def no_rms(_: torch.Tensor) -> float:
        raise AssertionError("rms computed for an output equal to the reference")

    monkeypatch.setattr(compare, "rms", no_rms)
    ref = torch.randn(100, 7)
    assert compare_outputs([ref], [ref.clone()], seed=0) is None
    monkeypatch.undo()
    out = ref.clone()
    out[1, 1] += 1.0
    assert compare_outputs([ref], [out], seed=0) is not None


def test_screening_stops_once_the_speedup_is_known() -> None:
    from akg_agents.profile.timer import SETTLE_MIN_ROUNDS, ratio_settled

    steady_c, steady_e = [1.0 + 0.001 * (i % 3) for i in range(SETTLE_MIN_ROUNDS)], [2.0] * SETTLE_MIN_ROUNDS
    assert ratio_settled(steady_c, steady_e)
    assert not ratio_settled(steady_c[:-1], steady_e[:-1])  # too few rounds, however steady
    noisy_c = [1.0, 1.3, 0.8, 1.25, 0.9, 1.2, 0.85, 1.1, 0.95, 1.15]
    assert not ratio_settled(noisy_c, [1.0] * len(noisy_c))
