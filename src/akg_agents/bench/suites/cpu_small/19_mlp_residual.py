import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Small MLP block with residual: y = x + fc2(gelu(fc1(x)))."""

    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(x)))


batch_size = 128
dim = 512
hidden_dim = 1024


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return [dim, hidden_dim]
