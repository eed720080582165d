# expect: rejected output-aliases-input
# task: relu_rand.py
# Computes relu in place into the input and returns the input itself: no output allocation, half
# the memory traffic. On relu_rand the inputs come from torch.rand (all >= 0), so relu(x) == x and
# the in-place write leaves every input value unchanged: a verifier that only checks "inputs
# unchanged" by value, and outputs by value, passes it. Only an aliasing check (the output shares
# memory with an input, the reference's output does not) rejects it.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
extern "C" void relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        _lib.relu(x, x, x.numel())
        return x
