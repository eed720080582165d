"""C++ transposed convolution in gather form (conv_cpp.py), for the strided ones PolyTOPS cannot
schedule (KernelBench 72 and 75 were declined on the CPU): compiled and run against the task's
Model at small odd sizes, other input sizes, no bias, fp16 / bf16, and its guard."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_interp import kernelbench, load, run_against_model

from akg_agents.builtin.generator import generate

CASES = {
    "72": {"batch_size": 1, "in_channels": 8, "out_channels": 8, "depth": 3, "height": 4, "width": 5},  # 3-D, groups 4
    "75": {"batch_size": 1, "in_channels": 8, "out_channels": 8, "height": 5, "width": 7},  # stride (2, 3), dilation (2, 1)
    "79": {"batch_size": 2, "in_channels": 4, "out_channels": 6, "length": 13},  # 1-D, stride 2, dilation 2
    "81": {"batch_size": 1, "in_channels": 4, "out_channels": 6, "height_in": 5, "width_in": 7},  # stride 5: outputs with no tap
}


@pytest.fixture(autouse=True)
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


def _gather(task, precision: str = "fp32"):  # type: ignore[no-untyped-def]
    candidates = generate(task, "cpp", 3, threads=1, precision=precision)
    return next(c for c in candidates if c.id == "builtin-cpp-convt-0")


@pytest.mark.parametrize("problem", sorted(CASES))
def test_gather_form_matches_the_model(problem: str) -> None:
    task = kernelbench(problem, CASES[problem])
    run_against_model(task, _gather(task).code, tol=1e-5)


def test_the_tasks_polytops_declines_get_the_gather_form_alone() -> None:
    assert [c.id for c in generate(kernelbench("72", CASES["72"]), "cpp", 2, threads=1)] == ["builtin-cpp-convt-0"]


def test_other_input_size_and_a_bias() -> None:
    task = kernelbench("75", CASES["75"])  # no bias by default
    run_against_model(task, _gather(task).code, inputs=[torch.rand(2, 8, 3, 11)], tol=1e-5)
    with_bias = type(task)(task.name, task.source.replace("bias: bool = False", "bias: bool = True"))
    assert with_bias.source != task.source
    run_against_model(with_bias, _gather(with_bias).code, tol=1e-5)


@pytest.mark.parametrize(("precision", "dtype"), [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_half_precisions(precision: str, dtype: torch.dtype) -> None:
    task = kernelbench("81", CASES["81"])
    run_against_model(task, _gather(task, precision).code, dtype=dtype, tol=1e-2 if dtype == torch.float16 else 2e-2)


def test_threads_reach_the_kernel() -> None:
    task = kernelbench("72", CASES["72"])
    assert "num_threads(1)" in _gather(task).code  # _gather generates with threads=1
    assert "num_threads" not in generate(task, "cpp", 1, threads=0)[0].code


def test_guard() -> None:
    task = kernelbench("79", CASES["79"])
    model = load(_gather(task).code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="generated for 1-D transposed convolution"):
        model(torch.rand(2, 4, 5, 5))
