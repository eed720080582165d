"""The implicit-im2col GEMM convolution of the cpp generator (builtin/conv_gemm_cpp.py), compiled and
run: through the verifier (groups, stride, padding, dilation, bias, odd sizes, K deeper than one
packed slice, fp16), against torch on random 1-D / 2-D / 3-D configurations and other input sizes,
its place in the race (first for a convolution layer, left out for depthwise layers and for a
search walking loop-nest points) and its one-line guard."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from builtin_check import module_of

from akg_agents.builtin.conv_gemm_cpp import conv_gemm_candidates
from akg_agents.builtin.generator import generate
from akg_agents.builtin.layer_task import find_layer_task, task_inputs
from akg_agents.builtin.poly_cpp import ONLY, PolyParams
from akg_agents.records import Candidate, Status, Task
from akg_agents.verify.compare import compare_tensor, tolerance_for
from akg_agents.verify.evaluate import Verifier, VerifySettings

SUITE = Path(__file__).parents[2] / "src" / "akg_agents" / "bench" / "suites" / "cpu_small"


@pytest.fixture(autouse=True)
def _cpp_cache(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(cache_dir))


def _conv_task(dims: int, c_in: int, c_out: int, kernel: object, shape: tuple[int, ...], stride: object = 1,
               padding: object = 0, dilation: object = 1, groups: int = 1, bias: bool = True) -> Task:
    source = f"""import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, c_in, c_out):
        super().__init__()
        self.conv = nn.Conv{dims}d(c_in, c_out, {kernel!r}, stride={stride!r}, padding={padding!r}, dilation={dilation!r},
                                 groups={groups}, bias={bias})

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.randn{shape!r}]


def get_init_inputs():
    return [{c_in}, {c_out}]
"""
    return Task("conv_case", source)


def _gemm(task: Task, index: int = 0, threads: int = 1) -> Candidate:
    module, inputs = task_inputs(task)
    layer = find_layer_task(module, inputs)
    assert layer is not None
    return conv_gemm_candidates(task, layer, index + 1, threads)[index]


def _check(task: Task, candidate: Candidate, inputs: list[torch.Tensor] | None = None) -> None:
    ref = module_of(task.source, "ref")
    init = list(ref.get_init_inputs())
    torch.manual_seed(0)
    model = ref.Model(*init)
    torch.manual_seed(0)
    new = module_of(candidate.code, "cand").ModelNew(*init)
    torch.manual_seed(1)
    values = inputs if inputs is not None else list(ref.get_inputs())
    with torch.no_grad():
        expected, actual = model(*values), new(*values)
    assert actual.shape == expected.shape
    problem = compare_tensor(expected, actual, 0, 0, tolerance_for(expected.dtype))
    assert problem is None, problem


CASES = {
    "groups_stride_pad_dilation": _conv_task(2, 6, 12, (3, 2), (2, 6, 13, 11), stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2),
    "deep_k_no_bias_odd": _conv_task(2, 37, 11, 3, (1, 37, 9, 23), padding=1, bias=False),  # K = 333: two KC slices
    "conv1d_strided": _conv_task(1, 5, 9, 4, (3, 5, 41), stride=3, padding=2, dilation=2),
    "conv3d_groups": _conv_task(3, 4, 8, (2, 3, 2), (2, 4, 5, 6, 7), stride=(1, 2, 1), padding=(1, 0, 1), groups=2),
}


@pytest.fixture(scope="module")
def verifier(cache_dir: Path) -> Iterator[Verifier]:
    v = Verifier(VerifySettings(threads=1, timeout_s=120, warmup_times=1, run_times=3), str(cache_dir))
    yield v
    v.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_verifier_accepts_the_implicit_gemm(verifier: Verifier, name: str) -> None:
    task = CASES[name]
    candidates = generate(task, "cpp", 2, threads=1)
    assert [c.id for c in candidates] == ["builtin-conv-gemm-0", "builtin-conv-gemm-1"]
    for candidate in candidates:
        result = verifier.evaluate(task, candidate)
        assert result.status is Status.PASSED, f"{candidate.id}: {result.message}"


def test_the_verifier_accepts_fp16(cache_dir: Path) -> None:
    task = CASES["groups_stride_pad_dilation"]
    candidate = generate(task, "cpp", 1, threads=1, precision="fp16")[0]
    assert candidate.id == "builtin-conv-gemm-0" and "x.float()" in candidate.code
    v = Verifier(VerifySettings(threads=1, timeout_s=120, warmup_times=1, run_times=3, precision="fp16"), str(cache_dir))
    try:
        result = v.evaluate(task, candidate)
    finally:
        v.close()
    assert result.status is Status.PASSED, result.message


def test_random_configurations_match_torch() -> None:
    rng = random.Random(16)
    for _ in range(40):
        dims = rng.choice((1, 2, 2, 3))
        groups = rng.choice((1, 1, 2, 3))
        c_in, c_out = groups * rng.randint(1, 5), groups * rng.randint(4, 9)
        kernel = tuple(rng.randint(1, 3) for _ in range(dims))
        stride = tuple(rng.randint(1, 3) for _ in range(dims))
        dilation = tuple(rng.randint(1, 2) for _ in range(dims))
        padding = tuple(rng.randint(0, 2) for _ in range(dims))
        spatial = tuple(rng.randint(dilation[d] * (kernel[d] - 1) + 1, 19 if dims < 3 else 7) for d in range(dims))
        task = _conv_task(dims, c_in, c_out, kernel, (rng.randint(1, 3), c_in, *spatial), stride, padding, dilation, groups,
                          bias=rng.random() < 0.7)
        _check(task, _gemm(task, rng.randint(0, 2), threads=rng.choice((1, 2))))


def test_other_input_sizes_and_threads() -> None:
    task = CASES["groups_stride_pad_dilation"]
    for threads in (1, 2, 0):
        candidate = _gemm(task, threads=threads)
        assert ("num_threads" in candidate.code) == (threads > 0)
        for shape in ((1, 6, 5, 5), (3, 6, 40, 70)):
            _check(task, candidate, [torch.randn(shape)])


def test_the_suite_conv_gets_the_implicit_gemm_first_then_loop_nests() -> None:
    task = Task("16_conv2d", (SUITE / "16_conv2d.py").read_text())
    ids = [c.id for c in generate(task, "cpp", 4, threads=1)]
    assert ids == ["builtin-conv-gemm-0", "builtin-conv-gemm-1", "builtin-poly-0", "builtin-poly-1"]


def test_depthwise_and_loop_nest_searches_get_loop_nests_alone() -> None:
    depthwise = _conv_task(2, 4, 4, 3, (1, 4, 8, 8), padding=1, groups=4)
    assert [c.id for c in generate(depthwise, "cpp", 2, threads=1)] == ["builtin-poly-0", "builtin-poly-1"]
    token = ONLY.set((PolyParams(),))
    try:
        assert [c.id for c in generate(CASES["conv1d_strided"], "cpp", 2, threads=1)] == ["builtin-poly-0"]
    finally:
        ONLY.reset(token)


def test_guard_is_one_line() -> None:
    task = CASES["conv1d_strided"]
    model = module_of(_gemm(task).code, "cand").ModelNew(*module_of(task.source, "ref").get_init_inputs())
    for bad, words in ((torch.randn(2, 4, 30), "generated for 1-D convolution of \\(N, 5, 1 spatial dims\\) float32"),
                       (torch.randn(2, 5, 30).double(), "float32 inputs, got"),
                       (torch.randn(2, 5, 2), "smaller than the dilated kernel")):
        with pytest.raises(ValueError, match=words) as caught:
            model(bad)
        assert "\n" not in str(caught.value)
