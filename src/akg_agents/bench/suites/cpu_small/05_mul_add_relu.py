import torch
import torch.nn as nn


class Model(nn.Module):
    """Fused multiply-add + ReLU of three inputs: out = relu(x * y + z)."""

    def __init__(self):
        super().__init__()

    def forward(self, x, y, z):
        return torch.relu(x * y + z)


batch_size = 512
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randn(batch_size, dim), torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
