# expect: mismatch
# Computes once, then returns the same buffer for every later call (stale output).
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
extern "C" void relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void nothing(const float* x, float* y, int64_t n) {}
"""
_lib = load_cpp(SOURCE)

class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cached = None

    def forward(self, x):
        if self.cached is None:
            self.cached = torch.empty_like(x)
            _lib.relu(x, self.cached, x.numel())
        else:
            _lib.nothing(x, self.cached, x.numel())
        return self.cached
