"""The built-in cpp generator on KernelBench-style tasks of every covered level-1 family
(tests/fixtures/builtin_families: activations, reductions over any dims, norms, softmax, scans,
losses): each candidate matches Model on the task's inputs and on other shapes of the same rank,
in fp32, fp16 and bf16 (computed in fp32)."""

from __future__ import annotations

from pathlib import Path

import pytest
from builtin_check import TASK_FILES, check_candidate, module_of

from akg_agents.builtin.generator import generate
from akg_agents.builtin.triton_codegen import triton_candidates
from akg_agents.dsl import get_plugin
from akg_agents.tasks.loader import load_task
from akg_agents.verify.static import check_source


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


def test_the_family_suite_is_there() -> None:
    assert len(TASK_FILES) >= 30


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.stem)
def test_cpp_candidate_matches_model_on_every_shape(path: Path) -> None:
    task = load_task(path)
    candidate = generate(task, "cpp", 1, threads=1)[0]
    check_candidate(module_of(task.source, task.name), candidate)


@pytest.mark.parametrize("path", TASK_FILES, ids=lambda p: p.stem)
def test_candidates_pass_the_static_checks(path: Path) -> None:
    """What the verifier checks before running anything (no try/except, no vars(), kernels
    launched ...), for both DSLs (generating Triton code needs no triton)."""
    task = load_task(path)
    for dsl, candidates in (("cpp", generate(task, "cpp", 2, threads=1)), ("triton_cuda", triton_candidates(task, 2))):
        for candidate in candidates:
            assert check_source(candidate.code, get_plugin(dsl))[1] == [], (dsl, candidate.id)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
@pytest.mark.parametrize("name", ["act_selu_hardsigmoid_elu", "red_argmax_dim1", "norm_batch2d", "norm_rms_dim1",
                                  "soft_logsoftmax_dim0", "scan_cumsum", "loss_cross_entropy", "loss_kl_div"])
def test_cpp_half_precisions(name: str, precision: str) -> None:
    task = load_task(Path(TASK_FILES[0].parent) / f"{name}.py")
    candidate = generate(task, "cpp", 1, threads=1)[0]
    check_candidate(module_of(task.source, task.name), candidate, precision, all_shapes=False)
