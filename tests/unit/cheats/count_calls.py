# expect: rejected timed-output-mismatch
# Correct while the verifier watches (4 calls), then replays its last output for speed.
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
        self.calls = 0
        self.last = None

    def forward(self, x):
        self.calls += 1
        if self.calls > 4:
            _lib.nothing(x, self.last, 0)
            return self.last
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        self.last = y
        return y
