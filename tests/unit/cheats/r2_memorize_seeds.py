# expect: rejected timed-output-mismatch
# Memorizes the verification seeds. The seeds are public and fixed ([0, 1, 2] by default) and
# ModelNew.__init__ runs outside the dispatch guard and outside the static "no torch math" rule
# (which looks at forward only): __init__ draws get_inputs() under each seed and computes the
# answers with torch.relu. The C++ compares the first 16 input values with the memorized inputs
# and copies the memorized answer; anything else gets zeros (no relu is ever computed in C++).
# With profiling (this harness) the fresh timed inputs catch it: timed-output-mismatch. WITHOUT
# profiling (Verifier.evaluate(..., profile=False): the `kernelgen_only` workflow, "generate and
# verify, no profiling") the only inputs are the three public seeds, and it PASSES: a kernel that
# computes nothing is reported correct. A correct verifier checks at least one input set drawn
# at verification time (a fresh seed from the referee) even when it does not time.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>

extern "C" void lookup(const float* x, float* y, int64_t n, const float* known_x, const float* known_y, int64_t count) {
    for (int64_t c = 0; c < count; ++c) {
        if (memcmp(x, known_x + c * n, 16 * sizeof(float)) == 0) {
            memcpy(y, known_y + c * n, n * sizeof(float));
            return;
        }
    }
    memset(y, 0, n * sizeof(float));
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        xs = []
        for seed in (0, 1, 2):
            torch.manual_seed(seed)
            xs.append(torch.randn(64, 256))
        self.known_x = torch.stack(xs).contiguous()
        self.known_y = torch.relu(self.known_x).contiguous()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.lookup(x, y, x.numel(), self.known_x, self.known_y, self.known_x.shape[0])
        return y
