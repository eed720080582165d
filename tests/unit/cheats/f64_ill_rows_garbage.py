# expect: mismatch
# task: variance_ill_rows.py
# Float64 re-judge: exact on the rows where PyTorch is accurate, 30 off the exact ~1 on the 4 rows
# where PyTorch's fp32 output is itself off by ~64-192. Element by element that error is no rounding
# (compare.py caps the allowance at 1e-2 of the exact value), so the candidate must match float64
# there: rejected. Before the cap it passed whenever PyTorch missed every such row by 30 or more.
import torch
import torch.nn as nn

from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cmath>
extern "C" void row_var(const float* x, float* y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = x + r * cols;
        double mean = 0.0;
        for (int64_t c = 0; c < cols; ++c) mean += (double)in[c];
        mean /= (double)cols;
        double acc = 0.0;
        for (int64_t c = 0; c < cols; ++c) { double d = (double)in[c] - mean; acc += d * d; }
        double v64 = acc / (double)cols;
        // the textbook formula in fp32, sequential sums: this kernel's own estimate of fp32's error
        float s = 0.0f, s2 = 0.0f;
        for (int64_t c = 0; c < cols; ++c) { s += in[c]; s2 += in[c] * in[c]; }
        float m32 = s / (float)cols;
        float v32 = s2 / (float)cols - m32 * m32;
        (void)v32;
        y[r] = (r % 16 == 0) ? (float)(v64 + 30.0) : (float)v64;
    }
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        _lib.row_var(x, y, x.shape[0], x.shape[1])
        return y
