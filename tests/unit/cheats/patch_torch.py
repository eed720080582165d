# expect: rejected no-patching
# Replaces a torch function so the eager baseline (or the timer's synchronize) does nothing.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

_lib = load_cpp(r"""
#include <cstdint>
extern "C" void relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
""")
torch.relu = lambda x: x


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
