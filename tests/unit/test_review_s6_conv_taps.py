"""Edge cases of the taps-outside Triton convolution (conv_taps.py: output phases of strided
transposed convolutions) and of the C++ transposed convolution in gather form (conv_cpp.py), on
layers written here rather than KernelBench's: stride and dilation with a common factor (4 / 2,
3 / 3, 2 / 4, 5 / 5: phases with no tap), a kernel wider than the stride, padding wider than the
kernel, groups with output_padding, channel counts that are not multiples of the tiles, 1-D to
3-D, with and without bias. The Triton kernel runs under the CPU interpreter (exact products)."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_interp import run_against_model

from akg_agents.builtin.conv_cpp import cpp_conv_transpose_candidates
from akg_agents.builtin.layer_task import find_layer_task, task_inputs
from akg_agents.builtin.precision import tracing_precision
from akg_agents.records import Task

# (dims, transposed, in, out, kernel, stride, padding, dilation, groups, output_padding, bias, input shape)
CASES = [
    (1, True, 4, 16, 3, 4, 1, 2, 1, 1, True, (1, 4, 6)),  # stride 4, dilation 2
    (1, True, 4, 16, 5, 3, 2, 3, 1, 2, True, (1, 4, 6)),  # stride 3, dilation 3
    (1, True, 4, 16, 3, 2, 0, 4, 1, 1, False, (2, 4, 5)),  # stride 2, dilation 4
    (1, True, 4, 16, 7, 2, 1, 1, 1, 0, True, (1, 4, 5)),  # kernel > stride
    (1, True, 4, 16, 2, 3, 4, 1, 1, 0, True, (1, 4, 9)),  # padding > kernel
    (1, True, 6, 18, 3, 3, 1, 1, 3, 2, True, (1, 6, 5)),  # groups, output_padding
    (2, True, 4, 16, (3, 2), (4, 3), (1, 2), (2, 3), 2, (1, 2), True, (1, 4, 4, 3)),
    (2, True, 34, 20, (2, 3), (2, 1), (1, 0), (4, 1), 2, (1, 0), True, (1, 34, 3, 4)),  # 17 channels per group
    (1, True, 40, 24, 3, 2, 1, 1, 1, 1, True, (1, 40, 5)),  # 40 = 32 + 8 channels, 24 out (32-wide tile)
    (1, True, 5, 3, 4, 5, 1, 5, 1, 3, True, (1, 5, 4)),  # stride 5 dilation 5: one tap per phase or none
    (1, True, 17, 17, 1, 3, 0, 1, 1, 2, True, (1, 17, 4)),  # kernel 1, stride 3: 2 of 3 phases empty
    (3, True, 4, 8, (2, 3, 2), (2, 3, 1), (0, 1, 1), (3, 2, 1), 2, (1, 2, 0), True, (1, 4, 2, 3, 3)),
    (1, False, 40, 24, 3, 2, 4, 2, 1, 0, True, (1, 40, 11)),  # convolution, padding > kernel
    (2, False, 34, 18, 3, (2, 3), (3, 1), (2, 1), 2, 0, False, (1, 34, 7, 8)),
]


def source(dims, transposed, cin, cout, k, s, p, d, g, op, bias, shape) -> str:  # type: ignore[no-untyped-def]
    layer = f"nn.ConvTranspose{dims}d" if transposed else f"nn.Conv{dims}d"
    extra = f", output_padding={op}" if transposed else ""
    return f"""import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = {layer}({cin}, {cout}, {k}, stride={s}, padding={p}, dilation={d}, groups={g}, bias={bias}{extra})

    def forward(self, x):
        return self.conv(x)


def get_inputs():
    return [torch.rand{shape}]


def get_init_inputs():
    return []
"""


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_taps_form(case: tuple) -> None:
    from builtin_interp import interpreter

    interpreter()
    from akg_agents.builtin.generator import generate

    task = Task("conv", source(*case))
    candidates = [c for c in generate(task, "triton_cuda", 6) if c.params["kind"] == "taps"]
    assert candidates
    for candidate in candidates:
        run_against_model(task, candidate.code)


@pytest.fixture
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


@pytest.mark.usefixtures("_private_cpp_cache")
@pytest.mark.parametrize(("precision", "dtype", "tol"), [("fp32", None, 1e-5), ("fp16", torch.float16, 1e-2),
                                                          ("bf16", torch.bfloat16, 2e-2)])
def test_cpp_gather_form(precision: str, dtype: torch.dtype | None, tol: float) -> None:
    for case in [c for c in CASES if c[1]]:
        task = Task("convt", source(*case))
        with tracing_precision(precision):
            module, inputs = task_inputs(task)
            layer = find_layer_task(module, inputs)
            assert layer is not None
            candidate = cpp_conv_transpose_candidates(task, layer)[0]
        run_against_model(task, candidate.code, dtype=dtype, tol=tol)


