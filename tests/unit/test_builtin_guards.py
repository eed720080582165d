"""A built-in kernel computes the right answer for any shape of the rank it was generated for and
any constructor argument that keeps the Model's constants, or refuses with one line naming what
it was made for; a task out of scope is declined with a reason in words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from builtin_check import FAMILIES, module_of

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered, lower_model
from akg_agents.records import Status, Task
from akg_agents.tasks.loader import load_task
from akg_agents.verify.evaluate import Verifier, VerifySettings

EXAMPLES = Path(__file__).parents[2] / "examples" / "tasks"


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


def _small(name: str, **sizes: int) -> Task:
    source = (EXAMPLES / f"{name}.py").read_text()
    for key, value in sizes.items():
        source = "\n".join(f"{key} = {value}" if line.startswith(f"{key} = ") else line for line in source.splitlines())
    return Task(name=name, source=source)


def _model_new(task: Task) -> tuple[object, object]:
    candidate = generate(task, "cpp", 1, threads=1)[0]
    return module_of(task.source, "task"), module_of(candidate.code, "candidate")


def test_rmsnorm_built_for_one_width_is_right_at_another() -> None:
    task, candidate = _model_new(_small("rmsnorm", batch_size=8, dim=64))
    torch.manual_seed(0)
    reference = task.Model(1000, 1e-6)  # type: ignore[attr-defined]
    torch.manual_seed(0)
    model_new = candidate.ModelNew(1000, 1e-6)  # type: ignore[attr-defined]
    x = torch.randn(5, 1000)
    torch.testing.assert_close(model_new(x), reference(x), rtol=1e-4, atol=1e-5)


def test_layernorm_built_for_one_width_is_right_at_another() -> None:
    task, candidate = _model_new(_small("layernorm", batch_size=8, dim=64))
    torch.manual_seed(0)
    reference = task.Model(1000)  # type: ignore[attr-defined]
    torch.manual_seed(0)
    model_new = candidate.ModelNew(1000)  # type: ignore[attr-defined]
    x = torch.randn(3, 1000)
    torch.testing.assert_close(model_new(x), reference(x), rtol=1e-4, atol=1e-5)


def test_another_baked_constant_is_refused_by_name() -> None:
    _, candidate = _model_new(_small("rmsnorm", batch_size=8, dim=64))
    with pytest.raises(ValueError, match=r"generated for Model with eps=1e-06; got eps=1e-05"):
        candidate.ModelNew(64, 1e-5)  # type: ignore[attr-defined]


def test_a_reduction_over_another_dim_is_refused() -> None:
    task = load_task(FAMILIES / "red_sum_dim1_keepdim.py")
    candidate = module_of(generate(task, "cpp", 1, threads=1)[0].code, "candidate")
    with pytest.raises(ValueError, match=r"dim=1; got dim=2"):
        candidate.ModelNew(2)


def test_float64_and_other_ranks_are_refused_in_one_line() -> None:
    _, candidate = _model_new(_small("softmax", batch_size=4, dim=33))
    model_new = candidate.ModelNew()  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="float32, float16 or bfloat16 inputs of one dtype; got float64"):
        model_new(torch.randn(4, 33, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"generated for rank-2 inputs; got shape \(2, 4, 33\)"):
        model_new(torch.randn(2, 4, 33))


def test_batch_norm_kernel_refuses_eval_mode() -> None:
    task = load_task(FAMILIES / "norm_batch2d.py")
    model_new = module_of(generate(task, "cpp", 1, threads=1)[0].code, "candidate").ModelNew(4)
    model_new.eval()
    with pytest.raises(RuntimeError, match="batch's statistics"):
        model_new(torch.rand(2, 4, 3, 3))


class RandomDropout(torch.nn.Module):
    """KernelBench leaves modules in training mode: this dropout is random, not an identity."""

    def __init__(self) -> None:
        super().__init__()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(x)


class Concatenate(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((x, x), dim=1)


class SumOfSums(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sum(torch.sum(x, dim=1), dim=0)


@pytest.mark.parametrize(
    ("model", "inputs", "reason"),
    [
        (RandomDropout(), [torch.randn(2, 4, 3, 3)], "module Dropout"),
        (Concatenate(), [torch.randn(3, 7)], "operation cat other than in an exclusive cumsum"),
        (SumOfSums(), [torch.randn(3, 7, 5)], "a reduction of a reduction"),
    ],
)
def test_declines_are_one_line_words(model: torch.nn.Module, inputs: list[torch.Tensor], reason: str) -> None:
    with pytest.raises(NotCovered, match=reason) as caught:
        lower_model(model, inputs)
    message = str(caught.value)
    assert "\n" not in message and " at 0x" not in message and "<" not in message


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    v = Verifier(VerifySettings(threads=1, timeout_s=60, warmup_times=1, run_times=3), str(cache_dir))
    yield v
    v.close()


@pytest.mark.parametrize("name", ["norm_rms_dim1", "red_argmax_dim1", "loss_cross_entropy"])
def test_the_verifier_accepts_the_kernels_on_every_shape_case(verifier: Verifier, name: str) -> None:
    task = load_task(FAMILIES / f"{name}.py")
    result = verifier.evaluate(task, generate(task, "cpp", 1, threads=1)[0])
    assert result.status is Status.PASSED, result.message
    assert "dynamic-shape case" in result.message
