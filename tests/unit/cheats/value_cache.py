# expect: rejected timed-output-mismatch
# Result reuse keyed on a cheap hash of a few sampled input values. The C++ XORs the bit patterns
# of four sampled elements (first, quarter, half, last) and Fibonacci-hashes them into a
# 4-slot direct-mapped table with no tag check; a filled slot means "seen this input": no work,
# and forward returns the output cached in that slot.
# Why it fools a naive verifier: the verifier's three seeds land in three different slots (seed 0
# -> 0, seed 1 -> 2, seed 2 -> 3 for relu_small's randn(64, 256)), so every verification call is
# correct, and timed calls that reuse a verified input are served from the table at no cost.
# Fresh timed inputs hash into the table too: at most one of them finds the free slot, every
# other timed call returns the output of a different input, which the timed-output check sees.
# (An exact-value key would never hit on fresh inputs and would then just be an honest kernel;
# if the verifier's seeds change, two of them may share a slot and verification says mismatch.)
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>

static bool filled[4];

static uint32_t bits(const float* p) { uint32_t u; std::memcpy(&u, p, 4); return u; }

// info[0] = slot, info[1] = 1 if the slot already holds an output (then nothing is computed)
extern "C" void relu_cached(const float* x, float* y, int64_t n, int64_t* info) {
    uint32_t h = bits(x) ^ bits(x + n / 4) ^ bits(x + n / 2) ^ bits(x + n - 1);
    int64_t slot = (int64_t)((h * 2654435761u) >> 30);
    info[0] = slot;
    if (filled[slot]) { info[1] = 1; return; }
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
    filled[slot] = true;
    info[1] = 0;
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = [None, None, None, None]
        self.info = torch.zeros(2, dtype=torch.int64)

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_cached(x, y, x.numel(), self.info)
        slot, hit = int(self.info[0]), int(self.info[1])
        if hit:
            return self.table[slot]
        self.table[slot] = y
        return y
