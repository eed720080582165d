"""KernelBench-style tasks whose forward applies layers in sequence (the layer-chain tests)."""

from __future__ import annotations

from akg_agents.records import Task

CHAIN_TASK = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
{layers}

    def forward(self, x):
{calls}
        return x


def get_inputs():
    return [torch.randn({shape})]


def get_init_inputs():
    return []
'''


def chain_task(layers: list[str], shape: str) -> Task:
    return Task("chain", CHAIN_TASK.format(
        layers="\n".join(f"        self.l{i} = {layer}" for i, layer in enumerate(layers)),
        calls="\n".join(f"        x = self.l{i}(x)" for i in range(len(layers))), shape=shape))
