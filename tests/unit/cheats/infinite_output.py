# expect: timeout
# Floods stdout forever (the log goes to a size-limited file; the deadline ends it).
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

FLOOD = load_cpp(r"""
#include <cstdint>
#include <cstdio>
extern "C" void flood(const float* x, float* y, int64_t n) {
    while (true) { std::puts("spam spam spam spam spam spam spam spam spam spam spam spam"); }
}
""")


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        FLOOD.flood(x, y, x.numel())
        return y
