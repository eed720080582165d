import torch
import torch.nn as nn


class Model(nn.Module):
    """Linear layer with bias followed by ReLU: y = relu(x @ W^T + b)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features, bias=True)

    def forward(self, x):
        return torch.relu(self.linear(x))


batch_size = 256
in_features = 512
out_features = 512


def get_inputs():
    return [torch.randn(batch_size, in_features)]


def get_init_inputs():
    return [in_features, out_features]
