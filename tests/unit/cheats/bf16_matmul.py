# expect: mismatch
# task: matmul_small.py
# An fp32 matmul computed on bf16 operands (what a tensor-core kernel would do to go 2-8x
# faster): A and B are rounded to bfloat16 (8-bit mantissa, round to nearest even) and the
# products are accumulated in fp32. The outputs look right to a loose or unscaled tolerance
# (relative error ~1e-3), but not to the fp32 tolerance scaled to the output's magnitude.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstring>
#include <vector>

static float to_bf16(float f) {  // round to nearest even, keep the top 16 bits
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u += 0x7FFFu + ((u >> 16) & 1u);
    u &= 0xFFFF0000u;
    std::memcpy(&f, &u, 4);
    return f;
}

extern "C" void matmul_bf16(const float* a, const float* b, float* c, int64_t m, int64_t k, int64_t n) {
    std::vector<float> a16(a, a + m * k), b16(b, b + k * n);
    for (auto& v : a16) v = to_bf16(v);
    for (auto& v : b16) v = to_bf16(v);
    #pragma omp parallel for
    for (int64_t i = 0; i < m; ++i) {
        float* row = c + i * n;
        for (int64_t j = 0; j < n; ++j) row[j] = 0.0f;
        for (int64_t p = 0; p < k; ++p) {
            float av = a16[i * k + p];
            const float* brow = b16.data() + p * n;
            for (int64_t j = 0; j < n; ++j) row[j] += av * brow[j];
        }
    }
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, A, B):
        A = A.contiguous()
        B = B.contiguous()
        C = torch.empty(A.shape[0], B.shape[1], dtype=A.dtype)
        _lib.matmul_bf16(A, B, C, A.shape[0], A.shape[1], B.shape[1])
        return C
