"""The built-in Triton generator's kernels, run for real on CPU tensors in Triton's interpreter
(TRITON_INTERPRET=1), on every family task (tests/fixtures/builtin_families) and on other shapes
of the same rank: the whole-row form, the chunked form (a tile narrower than the row) and the
two-stage form (columns split across programs). Skipped where triton is not installed."""

from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: kernels run on the CPU

from pathlib import Path

import pytest

triton = pytest.importorskip("triton")

from builtin_check import FAMILIES, TASK_FILES, check_candidate, module_of  # noqa: E402

from akg_agents.builtin.generator import trace_program  # noqa: E402
from akg_agents.builtin.triton_codegen import TritonParams, model_new_source, stageable, triton_candidates  # noqa: E402
from akg_agents.records import Candidate  # noqa: E402
from akg_agents.tasks.loader import load_task  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _interpreter_scalar_index() -> None:
    """Triton 3.6's interpreter turns a scalar into an index with int() of a 1-element array,
    which numpy >= 2.4 refuses ('only 0-dimensional arrays ...'): loops with a runtime bound
    (`tl.range(0, cols, BLOCK)`) fail in the interpreter only. Index the element instead."""
    from triton.runtime import interpreter

    original = interpreter._patch_lang_tensor

    def patched(tensor, scope):  # type: ignore[no-untyped-def]
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    interpreter._patch_lang_tensor = patched


def _candidate(path: Path, params: TritonParams) -> tuple[object, Candidate]:
    task = load_task(path)
    program = trace_program(task)
    return module_of(task.source, task.name), Candidate("forced", "triton_cuda", model_new_source(task, program, params))


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.stem)
def test_default_kernel_matches_model_on_every_shape(path: Path) -> None:
    task = load_task(path)
    candidate = triton_candidates(task, 1)[0]
    check_candidate(module_of(task.source, task.name), candidate)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.stem)
def test_chunked_and_two_stage_forms(path: Path) -> None:
    """A 16-wide tile walks every row in chunks; where the reductions combine, the columns are
    also split over 3 programs (the form few long rows take on the GPU)."""
    program = trace_program(load_task(path))
    if program.flat:
        pytest.skip("elementwise: one flat form")
    task, candidate = _candidate(path, TritonParams(block=16, rows=2, split=3 if stageable(program) else 0))
    check_candidate(task, candidate)  # type: ignore[arg-type]


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("name", ["act_mingpt_gelu", "red_min_last", "norm_layer_trailing", "norm_frobenius",
                                  "soft_softmax_dim1_rank3", "scan_cumsum_reverse", "loss_triplet", "loss_huber"])
def test_half_precisions(name: str, precision: str) -> None:
    task = load_task(FAMILIES / f"{name}.py")
    candidate = triton_candidates(task, 1)[0]
    check_candidate(module_of(task.source, task.name), candidate, precision, all_shapes=False)
