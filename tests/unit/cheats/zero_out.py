# expect: mismatch
# KernelBench's "zero-out" adversary: a kernel is built and launched (so launch counters and
# "did it run" checks pass) but it only writes zeros. On tasks whose reference output is mostly
# ~0 (a relu of mostly-negative data, a loss, a tiny softmax) an absolute tolerance passes it;
# relu_small has half its outputs positive, and the scaled tolerance rejects any of them.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>
extern "C" void relu(const float* x, float* y, int64_t n) {
    std::memset(y, 0, n * sizeof(float));
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
