"""Built-in pooling (KernelBench level 1, problems 41-46, and configurations they do not use:
ceil_mode, count_include_pad=False, divisor_override, NaN inputs): the C++ kernels compiled and
run here, the Triton kernels under Triton's CPU interpreter, both against the task's Model."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_interp import in_dtype, kernelbench, load, run_against_model

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Task

PROBLEMS = {
    "41": {"batch_size": 2, "features": 3, "sequence_length": 37},
    "42": {"batch_size": 2, "channels": 3, "height": 13, "width": 11},
    "43": {"batch_size": 1, "channels": 2, "dim1": 11, "dim2": 9, "dim3": 10},
    "44": {"batch_size": 2, "in_channels": 3, "input_length": 37},
    "45": {"batch_size": 1, "channels": 2, "height": 23, "width": 25},
    "46": {"batch_size": 1, "channels": 2, "depth": 7, "height": 9, "width": 10},
}

LAYER_TASK = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = {layer}

    def forward(self, x):
        return self.pool(x)


def get_inputs():
    return [torch.randn({shape})]


def get_init_inputs():
    return []
'''

CONFIGS = [
    ("nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True)", "2, 3, 10, 9"),
    ("nn.MaxPool1d(4, stride=3, padding=2, dilation=2, ceil_mode=True)", "2, 3, 23"),
    ("nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)", "2, 3, 10, 9"),
    ("nn.AvgPool3d((2, 3, 2), stride=(1, 2, 2), padding=(1, 1, 0), divisor_override=5)", "1, 2, 5, 7, 6"),
    ("nn.AvgPool1d(5, stride=2, padding=2, ceil_mode=True)", "2, 3, 20"),
    ("nn.MaxPool3d(2)", "1, 2, 5, 7, 6"),
]


def _config_task(layer: str, shape: str) -> Task:
    return Task("pool_config", LAYER_TASK.format(layer=layer, shape=shape))


@pytest.fixture(autouse=True)
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_cpp_kernelbench_pools(problem: str) -> None:
    task = kernelbench(problem, PROBLEMS[problem])
    (candidate,) = generate(task, "cpp", 2)
    assert candidate.dsl == "cpp" and "akg_pool" in candidate.code
    run_against_model(task, candidate.code, tol=1e-5)


@pytest.mark.parametrize(("layer", "shape"), CONFIGS)
def test_cpp_pool_configurations(layer: str, shape: str) -> None:
    task = _config_task(layer, shape)
    run_against_model(task, generate(task, "cpp", 1)[0].code, tol=1e-5)


def test_max_pool_propagates_nan_and_reads_constructor_arguments() -> None:
    source = LAYER_TASK.format(layer="nn.MaxPool2d(kernel_size, stride=stride)", shape="2, 3, 11, 12")
    source = source.replace("def __init__(self):", "def __init__(self, kernel_size=3, stride=2):")
    task = Task("pool_args", source)
    code = generate(task, "cpp", 1)[0].code
    x = torch.randn(2, 3, 11, 12)
    x[0, 1, 4, 5] = float("nan")
    module = load(code, "cand")
    ref = load(task.source, "ref")
    for args in ((3, 2), (2, 1), (4, 3)):  # other constructor arguments than the traced ones
        want, got = ref.Model(*args)(x), module.ModelNew(*args)(x)
        assert torch.equal(want.isnan(), got.isnan()) and got.isnan().any()
        assert torch.allclose(want.nan_to_num(), got.nan_to_num())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cpp_half_precisions(dtype: torch.dtype) -> None:
    """fp16 / bf16 (KernelBench's precision option): computed in float32, narrowed back; max
    pooling equals PyTorch's exactly, average pooling within the half tolerance."""
    for problem in ("42", "44", "45"):  # (PyTorch's CPU AvgPool3d has no fp16: no reference for 46)
        task = in_dtype(kernelbench(problem, PROBLEMS[problem]), dtype)
        code = generate(task, "cpp", 1)[0].code
        run_against_model(task, code, dtype=dtype, tol=0.0 if problem == "42" else 1e-2)


def test_cpp_guards_and_declines() -> None:
    task = kernelbench("42", PROBLEMS["42"])
    model = load(generate(task, "cpp", 1)[0].code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="generated for 2-D pooling"):
        model(torch.randn(2, 3, 8))
    with pytest.raises(ValueError, match="of float32"):
        model(torch.randn(1, 2, 8, 8, dtype=torch.float64))
    half = load(generate(in_dtype(task, torch.float16), "cpp", 1)[0].code, "half").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="of float16"):
        half(torch.randn(2, 3, 8, 8))
    with pytest.raises(NotCovered, match="return_indices"):
        generate(_config_task("nn.MaxPool1d(3, return_indices=True)", "2, 3, 9"), "cpp", 1)


class TestTriton:
    @pytest.fixture(autouse=True)
    def _interpreter(self) -> None:
        from builtin_interp import interpreter

        interpreter()

    @pytest.mark.parametrize("problem", sorted(PROBLEMS))
    def test_kernelbench_pools(self, problem: str) -> None:
        task = kernelbench(problem, PROBLEMS[problem])
        candidates = generate(task, "triton_cuda", 2)
        assert len(candidates) == 2 and all("def akg_pool" in c.code for c in candidates)
        for candidate in candidates:
            run_against_model(task, candidate.code, tol=1e-5)

    @pytest.mark.parametrize(("layer", "shape"), CONFIGS)
    def test_configurations(self, layer: str, shape: str) -> None:
        task = _config_task(layer, shape)
        run_against_model(task, generate(task, "triton_cuda", 1)[0].code, tol=1e-5)

    @pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
    def test_half_precisions(self, dtype: torch.dtype) -> None:
        for problem in ("42", "45"):
            task = in_dtype(kernelbench(problem, PROBLEMS[problem]), dtype)
            run_against_model(task, generate(task, "triton_cuda", 1)[0].code, tol=1e-2)

    def test_other_input_sizes(self) -> None:
        task = kernelbench("43", PROBLEMS["43"])
        code = generate(task, "triton_cuda", 1)[0].code
        run_against_model(task, code, inputs=[torch.randn(2, 3, 8, 13, 7)], tol=1e-5)
