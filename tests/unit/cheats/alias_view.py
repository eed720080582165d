# expect: rejected output-aliases-input
# task: relu_rand.py
# Like inplace_return_input, but returns a reshaped VIEW of the input (a new tensor object with
# the input's storage), so a check that only compares `output is input` misses it. On relu_rand
# (torch.rand inputs, all >= 0) the in-place relu changes no value, so value checks all pass.
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
        return x.view(-1).view(x.shape)
