# expect: runtime_error
# Writes far out of bounds: a segfault must become a result, not a crash.
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

CRASH = load_cpp(r"""
#include <cstdint>
extern "C" void crash(const float* x, float* y, int64_t n) {
    y[n + (1LL << 40)] = x[0];  // far out of bounds: SIGSEGV
}
""")


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        CRASH.crash(x, y, x.numel())
        return y
