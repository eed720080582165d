# expect: mismatch
# task: softmax_wide.py
# An fp32 softmax computed at half precision inside C++ ("mixed precision" done wrong): the input
# is rounded to _Float16, exp is taken and rounded to _Float16, the row sum is accumulated in fp32
# (so nothing overflows or drifts visibly) and the result is rounded to _Float16 before it is
# stored as fp32. Every output is about 1/4096, so a fixed absolute tolerance of 1e-4 (or 1e-3)
# accepts it outright; the relative error is ~2^-11 per rounding, over the fp32 tolerance once
# it is scaled to the output's magnitude (1e-4 * RMS + 1e-4 * |expected|).
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cmath>
#include <cstdint>

extern "C" void softmax_rows(const float* x, float* y, int64_t rows, int64_t cols) {
    #pragma omp parallel for
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = x + r * cols;
        float* out = y + r * cols;
        _Float16 m = (_Float16)in[0];
        for (int64_t c = 1; c < cols; ++c) {
            _Float16 v = (_Float16)in[c];
            m = v > m ? v : m;
        }
        float sum = 0.0f;
        for (int64_t c = 0; c < cols; ++c) {
            _Float16 e = (_Float16)std::exp((float)((_Float16)in[c] - m));
            out[c] = (float)e;
            sum += (float)e;
        }
        _Float16 inv = (_Float16)(1.0f / sum);
        for (int64_t c = 0; c < cols; ++c) out[c] = (float)((_Float16)out[c] * inv);
    }
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.softmax_rows(x, y, x.shape[0], x.shape[1])
        return y
