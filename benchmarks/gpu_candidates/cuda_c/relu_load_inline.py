import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

# The same kernel as the cuda_c example, built the KernelBench way (load_inline): slow to build.
CUDA_SOURCE = r"""
#include <torch/extension.h>
#include <cuda_runtime.h>

__global__ void relu_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)blockDim.x * gridDim.x) {
        float v = x[i];
        y[i] = v < 0.0f ? 0.0f : v;
    }
}

void relu_forward(torch::Tensor x, torch::Tensor y) {
    int64_t n = x.numel();
    const int threads = 256;
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65535 * 8) blocks = 65535 * 8;
    relu_kernel<<<(unsigned)blocks, threads>>>(x.data_ptr<float>(), y.data_ptr<float>(), n);
}
"""
CPP_SOURCE = "void relu_forward(torch::Tensor x, torch::Tensor y);"

_ext = load_inline(name="akg_relu_inline", cpp_sources=CPP_SOURCE, cuda_sources=CUDA_SOURCE,
                   functions=["relu_forward"], extra_cuda_cflags=["-O3"], verbose=False)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _ext.relu_forward(x, y)
        return y
