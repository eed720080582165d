import torch
import torch.nn as nn

from akg_agents.dsl.cuda_loader import load_cuda

CUDA_SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>

constexpr int THREADS = 256;

// One block per row, float4 loads (16 bytes per thread per step: full 128-byte lines per
// quarter-warp, a quarter of the load instructions). The row is read twice; the second read
// hits L1/L2, so DRAM traffic is one read of x plus one write of y.
__global__ void rmsnorm_kernel(const float4* __restrict__ x, const float4* __restrict__ w,
                               float4* __restrict__ y, int64_t cols4, float eps, float inv_cols) {
    __shared__ float shared[THREADS / 32];
    const float4* row = x + blockIdx.x * cols4;
    float4* out = y + blockIdx.x * cols4;
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < cols4; j += THREADS) {
        float4 v = row[j];
        s += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffff, s, o);
    if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = s;
    __syncthreads();
    float total = 0.0f;
    for (int i = 0; i < THREADS / 32; ++i) total += shared[i];
    float inv = rsqrtf(total * inv_cols + eps);
    for (int64_t j = threadIdx.x; j < cols4; j += THREADS) {
        float4 v = row[j], g = w[j];
        out[j] = make_float4(v.x * inv * g.x, v.y * inv * g.y, v.z * inv * g.z, v.w * inv * g.w);
    }
}

extern "C" void rmsnorm_forward(const float* x, const float* w, float* y, int64_t rows, int64_t cols, double eps) {
    // cols must be a multiple of 4 (float4); the Python side checks it.
    rmsnorm_kernel<<<(unsigned)rows, THREADS>>>((const float4*)x, (const float4*)w, (float4*)y, cols / 4,
                                               (float)eps, 1.0f / (float)cols);
}
"""

_lib = load_cuda(CUDA_SOURCE)


class ModelNew(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.randn(dim) * 0.1 + 1.0)

    def forward(self, x):
        x = x.contiguous()
        cols = x.shape[-1]
        assert cols % 4 == 0, "this kernel reads rows as float4"
        y = torch.empty_like(x)
        _lib.rmsnorm_forward(x, self.weight, y, x.numel() // cols, cols, float(self.eps))
        return y
