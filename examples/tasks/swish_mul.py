import torch
import torch.nn as nn


class Model(nn.Module):
    """Fused SiLU-gated product: y = x * sigmoid(x) * y."""

    def __init__(self):
        super().__init__()

    def forward(self, x, y):
        return x * torch.sigmoid(x) * y


batch_size = 512
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim), torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
