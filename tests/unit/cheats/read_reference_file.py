# expect: rejected no-patching
# Tries to read the verifier's reference outputs from disk instead of computing them.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

_lib = load_cpp(r"""
#include <cstdint>
extern "C" void nothing(const float* x, float* y, int64_t n) {}
""")


class ModelNew(nn.Module):
    def forward(self, x):
        y = torch.empty_like(x)
        _lib.nothing(x, y, x.numel())
        with open("ref_seed0.pt", "rb") as handle:
            handle.read()
        return y
