"""When PyTorch's own fp32 reference is inaccurate, a more accurate kernel must still pass.

The task below computes a variance as E[x^2] - E[x]^2 over rows of values near 100: two fp32
means of about 1e4 cancel to a result near 1, so PyTorch's fp32 output is off the exact value by
up to ~3e-3 (about 10x the fp32 tolerance). A kernel that computes in float64 and stores fp32 is
closer to the truth than PyTorch, and used to be rejected as a mismatch. On a mismatch the
referee now recomputes the reference in float64 and accepts an output within the tolerance plus
PyTorch's own error, element by element; a kernel computing in fp16, or garbage, still fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from akg_agents.records import Candidate, Status, Task
from akg_agents.verify.compare import Tolerance, compare_tensor, reference_error, tolerance_for
from akg_agents.verify.evaluate import Verifier, VerifySettings

VARIANCE_TASK = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    """Row variance the textbook way: E[x^2] - E[x]^2 (it cancels catastrophically in fp32)."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return (x * x).mean(dim=1) - x.mean(dim=1) ** 2


batch_size = 64
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim) + 100.0]


def get_init_inputs():
    return []
'''

# The C++ kernel: reads x, computes the row variance with values read through `LOAD` into double,
# two passes (mean, then squared deviations), and stores fp32.
KERNEL = '''
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
extern "C" void row_var(const float* x, float* y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = x + r * cols;
        double mean = 0.0;
        for (int64_t c = 0; c < cols; ++c) mean += (double)(LOAD(in[c]));
        mean /= (double)cols;
        double acc = 0.0;
        for (int64_t c = 0; c < cols; ++c) {
            double d = (double)(LOAD(in[c])) - mean;
            acc += d * d;
        }
        y[r] = STORE(acc / (double)cols);
    }
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        _lib.row_var(x, y, x.shape[0], x.shape[1])
        return y
'''


def kernel(load: str = "v", store: str = "(float)(v)") -> str:
    source = KERNEL.replace('SOURCE = r"""\n', f'SOURCE = r"""\n#define LOAD(v) ({load})\n#define STORE(v) ({store})\n')
    return source


FLOAT64 = kernel()  # exact math in double, rounded once to fp32
HALF_INPUTS = kernel(load="(_Float16)(v)")  # reads its inputs at half precision, then exact math
CONSTANT_ONE = kernel(store="1.0f")  # garbage near the right values: randn's variance is about 1


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    v = Verifier(VerifySettings(threads=1, timeout_s=30.0, memory_mb=2048, warmup_times=1, run_times=4),
                 str(cache_dir / "reference_error"))
    yield v
    v.close()


def test_the_fp32_reference_of_this_task_is_off_by_more_than_the_tolerance() -> None:
    # The premise, checked on the CPU: PyTorch's fp32 output is further from the exact value than
    # the fp32 tolerance allows, and a float64 computation stored as fp32 is not.
    torch.manual_seed(0)
    x = torch.randn(64, 4096) + 100.0
    ref32 = (x * x).mean(dim=1) - x.mean(dim=1) ** 2
    x64 = x.double()
    ref64 = (x64 * x64).mean(dim=1) - x64.mean(dim=1) ** 2
    tol = tolerance_for(torch.float32)
    assert compare_tensor(ref32, ref64.float(), 0, 0, tol) is not None  # judged against fp32: rejected
    assert compare_tensor(ref64.float(), ref32, 0, 0, tol) is not None  # PyTorch, judged against float64
    correction = reference_error(ref32, ref64)
    assert correction is not None
    assert compare_tensor(ref32, ref64.float(), 0, 0, tol, correction=correction) is None


def test_a_kernel_more_accurate_than_pytorch_passes_and_says_so(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("variance", VARIANCE_TASK), Candidate("f64", "cpp", FLOAT64))
    assert result.status is Status.PASSED, result.feedback()
    assert "float64 reference within fp32 reference error" in result.message, result.message
    # every timed call (fresh inputs) was checked too, against the same float64 allowance
    assert result.profile is not None and result.profile.timed_checked == result.profile.input_sets > 0


def test_a_kernel_reading_its_fp32_inputs_at_half_precision_still_fails(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("variance", VARIANCE_TASK), Candidate("half", "cpp", HALF_INPUTS))
    assert result.status is Status.MISMATCH, result.feedback()
    assert result.mismatch is not None and "float64 reference" in result.mismatch.detail


def test_garbage_close_to_the_values_still_fails(verifier: Verifier) -> None:
    result = verifier.evaluate(Task("variance", VARIANCE_TASK), Candidate("one", "cpp", CONSTANT_ONE))
    assert result.status is Status.MISMATCH, result.feedback()
    assert result.mismatch is not None and result.mismatch.bad_count > 32


def test_a_model_that_cannot_run_in_float64_keeps_the_verdict_and_says_why(verifier: Verifier) -> None:
    # forward insists on fp32: the float64 recomputation raises, so the fp32 verdict stands
    strict = VARIANCE_TASK.replace("def forward(self, x):\n",
                                   "def forward(self, x):\n        assert x.dtype == torch.float32, 'fp32 only'\n")
    result = verifier.evaluate(Task("variance_fp32_only", strict), Candidate("f64", "cpp", FLOAT64))
    assert result.status is Status.MISMATCH, result.feedback()
    assert result.mismatch is not None and "cannot run in float64" in result.mismatch.detail, result.mismatch


def test_an_accurate_reference_gives_no_allowance() -> None:
    # An fp32 softmax is accurate: the correction is tiny, and an fp16 computation still fails.
    torch.manual_seed(0)
    logits = torch.randn(64, 4096, dtype=torch.float64)
    ref64 = torch.softmax(logits.float().double(), dim=1)
    ref32 = torch.softmax(logits.float(), dim=1)
    in_half = torch.softmax(logits.half().float(), dim=1).half().float()
    correction = reference_error(ref32, ref64)
    assert correction is not None
    tol = tolerance_for(torch.float32)
    mismatch = compare_tensor(ref32, in_half, 0, 0, tol, correction=correction)
    assert mismatch is not None and mismatch.bad_count > 1000


def test_nan_and_inf_positions_still_follow_the_fp32_reference() -> None:
    ref32 = torch.tensor([1.0, float("inf"), float("nan"), 4.0])
    ref64 = torch.tensor([1.001, 3.0e38, 2.0, 4.0], dtype=torch.float64)  # float64 finite where fp32 is not
    correction = reference_error(ref32, ref64)
    assert correction is not None and correction[1:3].eq(0).all()  # no allowance where fp32 is not finite
    tol = Tolerance(1e-4, 1e-4)
    assert compare_tensor(ref32, torch.tensor([1.001, float("inf"), float("nan"), 4.0]), 0, 0, tol, correction=correction) is None
    assert compare_tensor(ref32, torch.tensor([1.001, 3.0e38, 2.0, 4.0]), 0, 0, tol, correction=correction) is not None


def test_chunks_use_their_own_part_of_the_correction(monkeypatch: pytest.MonkeyPatch) -> None:
    import akg_agents.verify.compare as compare

    monkeypatch.setattr(compare, "CHUNK_ELEMENTS", 100)
    ref32 = torch.ones(1000)
    ref64 = torch.ones(1000, dtype=torch.float64)
    ref64[750] += 0.01  # PyTorch is off at one element, in the eighth chunk
    out = ref32.clone()
    out[750] += 0.01
    correction = reference_error(ref32, ref64)
    tol = tolerance_for(torch.float32)
    assert compare_tensor(ref32, out, 0, 0, tol, correction=correction) is None
    out[250] += 0.01  # where PyTorch was right, the candidate must be too
    mismatch = compare_tensor(ref32, out, 0, 0, tol, correction=correction)
    assert mismatch is not None and mismatch.element == [250] and mismatch.bad_count == 1


def test_the_float64_reference_is_computed_once_per_case_and_kept_compactly(monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.verify import referee_task
    from akg_agents.verify.referee_task import prepare

    task = prepare({"cmd": "prepare", "task_source": VARIANCE_TASK, "digest": "variance", "seeds": [0, 1], "device": "cpu"})
    runs: list[str] = []
    original = referee_task.PreparedTask._reference_errors

    def counted(self: referee_task.PreparedTask, key: str, expected: list[torch.Tensor]) -> list[torch.Tensor | None] | str:
        runs.append(key)
        return original(self, key, expected)

    monkeypatch.setattr(referee_task.PreparedTask, "_reference_errors", counted)
    refs = task.references["seed0"]
    first = task.reference_errors("case:seed0", refs)
    assert task.reference_errors("case:seed0", refs) is first and runs == ["case:seed0"]
    assert isinstance(first, list) and first[0] is not None
    # float32 in host memory (not a float64 copy of the output), and the kept inputs are as drawn
    assert first[0].dtype == torch.float32 and first[0].device.type == "cpu" and first[0].abs().max() > 1e-3
    assert torch.equal(task.case_inputs["seed0"][0], referee_task.make_inputs(task.module, 0, "cpu")[0])
    # a fresh timed seed is kept only until the next one
    fresh = task.outputs_for_seed(12345)
    task.reference_errors("fresh:12345", fresh)
    task.reference_errors("fresh:12345", fresh)
    task.reference_errors("fresh:999", task.outputs_for_seed(999))
    assert runs == ["case:seed0", "fresh:12345", "fresh:999"]
    assert task.fresh_correction is not None and task.fresh_correction[0] == "fresh:999"
    assert set(task.corrections) == {"case:seed0"}


def test_the_pass_message_is_unchanged_when_pytorch_was_accurate() -> None:
    from akg_agents.verify.evaluate import _pass_message

    cases = ["seed0", "seed1", "seed2"]
    plain = {"float64": {"cases": [], "timed": 0, "dtypes": []}}
    assert _pass_message([0, 1, 2], cases, plain) == "matches PyTorch on seeds [0, 1, 2]"
    mixed = {"float64": {"cases": ["seed1"], "timed": 2, "dtypes": ["fp32"]}}
    assert _pass_message([0, 1, 2], cases, mixed) == (
        "matches PyTorch on seeds [0, 2]; matches the float64 reference within fp32 reference error on seeds [1] "
        "(PyTorch's own fp32 output is off by more than the tolerance there)")


def test_a_reference_off_by_more_than_rounding_gets_no_allowance() -> None:
    # At fp16 the textbook variance is garbage (mean(x*x) ~ 1e4 has an ulp of 8): PyTorch's output
    # is off by ~3x its own magnitude. Allowing that much would pass anything; so none is allowed.
    from akg_agents.verify.referee_task import prepare

    half = prepare({"cmd": "prepare", "task_source": VARIANCE_TASK, "digest": "variance16", "seeds": [0], "device": "cpu",
                    "precision": "fp16"})
    found = half.reference_errors("case:seed0", half.references["seed0"])
    assert isinstance(found, str) and "beyond rounding" in found and "fp16" in found, found
    # the fp32 task's error (1e-3 of its magnitude) is rounding: allowed
    full = prepare({"cmd": "prepare", "task_source": VARIANCE_TASK, "digest": "variance32", "seeds": [0], "device": "cpu"})
    assert isinstance(full.reference_errors("case:seed0", full.references["seed0"]), list)


HALF_CONSTANT_ONE = '''
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

_lib = load_cpp(r"""
#include <cstdint>
extern "C" void row_var(const _Float16* x, _Float16* y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) y[r] = (_Float16)1.0f;
}
""")


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        _lib.row_var(x, y, x.shape[0], x.shape[1])
        return y
'''


def test_garbage_on_a_task_whose_fp16_reference_is_garbage_still_fails(cache_dir: Path) -> None:
    v = Verifier(VerifySettings(threads=1, timeout_s=30.0, memory_mb=2048, warmup_times=1, run_times=4, precision="fp16"),
                 str(cache_dir / "reference_error_fp16"))
    try:
        result = v.evaluate(Task("variance", VARIANCE_TASK), Candidate("one16", "cpp", HALF_CONSTANT_ONE))
    finally:
        v.close()
    assert result.status is Status.MISMATCH, result.feedback()
    assert result.mismatch is not None and "beyond rounding" in result.mismatch.detail, result.mismatch


def test_an_element_whose_reference_is_meaningless_gets_no_allowance() -> None:
    # Most of the output is large and accurate, so PyTorch's error over the whole output looks like
    # rounding (1e-3 of its RMS); one element is small and PyTorch's fp32 value there is garbage
    # (-128 for an exact 1.0, as the textbook variance of values near 3e4 gives). Its error is no
    # rounding: a candidate must match the float64 value there, not be anywhere within 129 of it.
    ref32 = torch.full((1000,), 1.0e4)
    ref32[7] = -128.0
    ref64 = ref32.double()
    ref64[7] = 1.0
    correction = reference_error(ref32, ref64)
    assert correction is not None
    tol = tolerance_for(torch.float32)  # atol = 1e-4 * RMS (~1.0)
    garbage = ref32.clone()
    garbage[7] = 100.0  # within PyTorch's own error of the exact value, 100x off it
    mismatch = compare_tensor(ref32, garbage, 0, 0, tol, correction=correction)
    assert mismatch is not None and mismatch.element == [7] and mismatch.bad_count == 1
    exact = ref32.clone()
    exact[7] = 1.0  # the float64 value passes
    assert compare_tensor(ref32, exact, 0, 0, tol, correction=correction) is None
    like_pytorch = ref32.clone()
    like_pytorch[7] = -128.0  # and so does PyTorch's own value, as it did before the float64 look
    like_pytorch[3] += 0.5  # (with an element elsewhere off PyTorch's, so the float64 path decides)
    ref64[3] += 0.5
    correction = reference_error(ref32, ref64)
    assert correction is not None
    assert compare_tensor(ref32, like_pytorch, 0, 0, tol, correction=correction) is None
    # nor does PyTorch's garbage magnitude widen the relative tolerance there (1e-4 * 1e6 = 100)
    ref32[7], ref64[7] = 1.0e6, 1.0
    correction = reference_error(ref32, ref64)
    assert correction is not None
    garbage[7] = 50.0
    mismatch = compare_tensor(ref32, garbage, 0, 0, tol, correction=correction)
    assert mismatch is not None and mismatch.element == [7]


def test_running_out_of_memory_in_the_float64_look_keeps_the_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    # A candidate that crowds the memory out (or a task too big for float64) makes the recomputation
    # fail: the fp32 verdict stands, says why, and the look is tried again next time (not cached).
    from akg_agents.verify import referee_task
    from akg_agents.verify.referee_task import float64_look, prepare

    task = prepare({"cmd": "prepare", "task_source": VARIANCE_TASK, "digest": "variance_oom", "seeds": [0], "device": "cpu"})
    refs = task.references["seed0"]
    x = task.case_inputs["seed0"][0].double()
    exact = ((x * x).mean(dim=1) - x.mean(dim=1) ** 2).float()
    tol = tolerance_for(torch.float32)
    problem = compare_tensor(refs[0], exact, 0, 0, tol)
    assert problem is not None  # the float64 kernel's output misses PyTorch's

    def no_memory(self: referee_task.PreparedTask, key: str, expected: list[torch.Tensor]) -> list[torch.Tensor | None] | str:
        raise MemoryError("out of memory")

    monkeypatch.setattr(referee_task.PreparedTask, "_reference_errors", no_memory)
    kept = float64_look(task, "case:seed0", refs, 0, exact, tol, None, problem)
    assert kept is not None and "not enough memory" in kept.detail and kept.bad_count == problem.bad_count
    assert "case:seed0" not in task.corrections
    monkeypatch.undo()  # memory is back: the same output now passes against the float64 reference
    assert float64_look(task, "case:seed0", refs, 0, exact, tol, None, problem) is None


@pytest.mark.parametrize("when", ["before", "during"])
def test_an_output_written_after_submission_does_not_pass_through_the_float64_look(
        monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    # The referee reads a candidate's output in the candidate's memory (a shared slot). A writer
    # left running after the call (a forked child) finds a window in the float64 look: the
    # recomputation takes a while, and the output used to be read again after it. Here the right
    # values land once the first comparison has failed: before the look starts, or during it.
    from akg_agents.verify import referee_task
    from akg_agents.verify.referee_task import float64_look, prepare

    task = prepare({"cmd": "prepare", "task_source": VARIANCE_TASK, "digest": "variance_late", "seeds": [0], "device": "cpu"})
    refs = task.references["seed0"]
    x = task.case_inputs["seed0"][0].double()
    exact = ((x * x).mean(dim=1) - x.mean(dim=1) ** 2).float()
    live = torch.zeros_like(exact)  # nothing written yet when the call returned
    tol = tolerance_for(torch.float32)
    problem = compare_tensor(refs[0], live, 0, 0, tol)
    assert problem is not None
    original = referee_task.PreparedTask.reference_errors

    def late_write(self: referee_task.PreparedTask, key: str, expected: list[torch.Tensor]) -> list[torch.Tensor | None] | str:
        found = original(self, key, expected)
        live.copy_(exact)
        return found

    if when == "before":
        live.copy_(exact)
    else:
        monkeypatch.setattr(referee_task.PreparedTask, "reference_errors", late_write)
    kept = float64_look(task, "case:seed0", refs, 0, live, tol, None, problem)
    assert kept is not None  # judged on the output as it was when the first comparison failed
    if when == "before":
        assert "changed after it was submitted" in kept.detail, kept
    # the same values, there from the start, pass (the float64 kernel of the tests above)
    first = compare_tensor(refs[0], exact, 0, 0, tol)
    assert first is not None and float64_look(task, "case:seed0", refs, 0, exact.clone(), tol, None, first) is None
