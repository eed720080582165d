import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Elementwise HardSwish: y = x * relu6(x + 3) / 6."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return F.hardswish(x)


batch_size = 1024
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
