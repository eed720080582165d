import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Fused bias add + GELU (erf form): y = gelu(x + bias)."""

    def __init__(self, dim):
        super().__init__()
        self.bias = nn.Parameter(torch.randn(dim))

    def forward(self, x):
        return F.gelu(x + self.bias)


batch_size = 512
dim = 4096


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [dim]
