"""Chains of layers on the CPU: a pooling chain as one C++ pooling kernel per layer (conv_chain.py),
KernelBench 86 (depthwise then pointwise convolution) through the cpp generator's PolyTOPS path
(one loop nest for the chain), both compiled and run against the task's Model; and what is, and
is not, a chain. The Triton chains run in test_builtin_conv_chain_triton.py."""

from __future__ import annotations

import pytest
import torch
from builtin_interp import kernelbench, load, run_against_model
from chain_tasks import chain_task

from akg_agents.builtin.conv_chain import find_layer_chain, traced_task_model
from akg_agents.builtin.generator import generate
from akg_agents.builtin.layer_task import task_inputs
from akg_agents.records import Task


def test_cpp_pooling_chain_runs_one_kernel_per_layer() -> None:
    task = chain_task(["nn.MaxPool2d(3, stride=2, padding=1)", "nn.AvgPool2d(2, ceil_mode=True)"], "2, 3, 13, 11")
    candidate = generate(task, "cpp", 1)[0]
    assert candidate.id == "builtin-chain-0" and "_lib_l0" in candidate.code and "_lib_l1" in candidate.code
    run_against_model(task, candidate.code)
    run_against_model(task, candidate.code, inputs=[torch.randn(1, 2, 7, 20)])


def test_kernelbench_86_on_the_cpu_is_one_polytops_loop_nest() -> None:
    task = kernelbench("86", {"batch_size": 2, "in_channels": 3, "out_channels": 5, "height": 9, "width": 11})
    candidate = generate(task, "cpp", 1)[0]
    assert "PolyTOPS" in candidate.note
    run_against_model(task, candidate.code)
    model = load(candidate.code, "cand").ModelNew(*load(task.source, "ref").get_init_inputs())
    with pytest.raises(ValueError, match="generated for float32 tensors of shapes"):
        model(torch.rand(2, 3, 10, 11))


CHAINS = {
    "conv_then_pool": ("x = self.pool(self.conv(x))", True),
    "residual": ("x = x + self.conv(x)", False),
    "two_uses": ("x = self.conv(x) * self.pool(x)", False),
}
SOURCE = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(3, stride=1, padding=1)

    def forward(self, x):
        {line}
        return x


def get_inputs():
    return [torch.randn(1, 3, 5, 5)]


def get_init_inputs():
    return []
'''


@pytest.mark.parametrize("name", sorted(CHAINS))
def test_what_is_a_chain(name: str) -> None:
    line, is_chain = CHAINS[name]
    module, inputs = task_inputs(Task(name, SOURCE.format(line=line)))
    traced = traced_task_model(module)
    assert traced is not None
    chain = find_layer_chain(traced, inputs)
    assert (chain is not None) == is_chain
    if chain is not None:
        assert [layer.name for layer in chain] == ["conv", "pool"] and chain[1].input_shape == (1, 3, 5, 5)
