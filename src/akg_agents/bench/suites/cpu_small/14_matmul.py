import torch
import torch.nn as nn


class Model(nn.Module):
    """Dense matrix multiply of two inputs: C = A @ B with A (m, k), B (k, n)."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)


m = 256
k = 512
n = 512


def get_inputs():
    return [torch.randn(m, k), torch.randn(k, n)]


def get_init_inputs():
    return []
