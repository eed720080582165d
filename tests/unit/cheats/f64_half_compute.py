# expect: mismatch
# task: variance_mixed.py
# Float64 re-judge: a numerically stable (two-pass) variance computed entirely in _Float16 on an
# fp32 task whose fp32 reference is inaccurate on half the rows. Its error (~1e-3 relative and
# more on every row) is not PyTorch's: rows where PyTorch is accurate catch it: rejected.
import torch
import torch.nn as nn

from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
extern "C" void row_var(const float* x, float* y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* in = x + r * cols;
        _Float16 mean = 0;
        float s = 0.0f;
        for (int64_t c = 0; c < cols; ++c) s += (float)(_Float16)in[c];
        mean = (_Float16)(s / (float)cols);
        float acc = 0.0f;
        for (int64_t c = 0; c < cols; ++c) { _Float16 d = (_Float16)in[c] - mean; acc += (float)(_Float16)(d * d); }
        y[r] = (float)(_Float16)(acc / (float)cols);
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
