# expect: passed
# task: variance_ill_rows.py
# Control: the row variance in double on a task where PyTorch's fp32 output is garbage on 4 rows
# (off by ~100 for an exact ~1) yet accurate over the whole output (1e-3 of its RMS): passes.
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
        y[r] = (float)v64;
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
