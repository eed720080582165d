# expect: rejected timed-output-mismatch
# Behaves differently after N calls, with the counter hidden in C++ (Python sees an honest
# forward). The first 5 calls compute relu and keep a copy of the result; from the 6th on, the
# kernel copies the remembered result into the fresh output instead of computing (for relu this
# costs as much as the math; for a matmul or a conv it is the whole speedup).
# Why it fools a naive verifier: verification makes at most 5 calls (3 seeds plus a repeat), all
# correct; timing then runs on the verified inputs, where the replay happens to be right, and a
# single "check the output after timing" on those inputs passes too. The output is a new tensor
# each call, so an identity check (`same object as last time`) sees nothing either. Fresh inputs
# on every timed call, each checked, see the replayed (stale) values.
# (N = 5 assumes the new verifier makes at most 5 verification calls; with more, it is caught in
# verification instead and the verdict becomes mismatch.)
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>
#include <vector>

static int64_t calls = 0;
static std::vector<float> last;

extern "C" void relu(const float* x, float* y, int64_t n) {
    calls += 1;
    if (calls <= 5 || (int64_t)last.size() != n) {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
        last.assign(y, y + n);
        return;
    }
    std::memcpy(y, last.data(), n * sizeof(float));  // replay the last computed answer
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
