import torch
import torch.nn as nn

from akg_agents.dsl.cuda_loader import load_cuda

CUDA_SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>

constexpr int THREADS = 512;  // 16 warps per row: 8 floats per thread for a 4096-wide row

// Block-wide reduction: shuffle within each warp (no shared memory traffic), then one value
// per warp through shared memory, then the first warp reduces those.
template <bool IS_MAX>
__device__ float block_reduce(float v, float* shared) {
    for (int o = 16; o > 0; o >>= 1) {
        float other = __shfl_down_sync(0xffffffff, v, o);
        v = IS_MAX ? fmaxf(v, other) : v + other;
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = threadIdx.x < THREADS / 32 ? shared[lane] : (IS_MAX ? -INFINITY : 0.0f);
    if (warp == 0) {
        for (int o = 16; o > 0; o >>= 1) {
            float other = __shfl_down_sync(0xffffffff, v, o);
            v = IS_MAX ? fmaxf(v, other) : v + other;
        }
        if (lane == 0) shared[0] = v;
    }
    __syncthreads();
    float result = shared[0];
    __syncthreads();  // shared[] is reused by the next reduction
    return result;
}

// One block per row. Pass 1 reads the row from DRAM (coalesced: thread t reads t, t+512, ...);
// passes 2 and 3 re-read it from L1/L2 (a 16 KB row stays resident), so DRAM sees one read.
__global__ void softmax_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t cols) {
    __shared__ float shared[32];
    const float* row = x + blockIdx.x * cols;
    float* out = y + blockIdx.x * cols;
    float m = -INFINITY;
    for (int64_t j = threadIdx.x; j < cols; j += THREADS) m = fmaxf(m, row[j]);
    m = block_reduce<true>(m, shared);
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < cols; j += THREADS) s += __expf(row[j] - m);
    s = block_reduce<false>(s, shared);
    float inv = 1.0f / s;
    for (int64_t j = threadIdx.x; j < cols; j += THREADS) out[j] = __expf(row[j] - m) * inv;
}

extern "C" void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols) {
    softmax_kernel<<<(unsigned)rows, THREADS>>>(x, y, cols);
}
"""

_lib = load_cuda(CUDA_SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        cols = x.shape[-1]
        _lib.softmax_forward(x, y, x.numel() // cols, cols)
        return y
