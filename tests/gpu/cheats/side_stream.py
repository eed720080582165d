# expect: passed
# dsl: cuda_c
# min-ms: 1.0
# KernelBench's "non-default stream" adversary, in CUDA C because the static rules forbid
# torch.cuda.Stream and grep the CUDA source for cudaStreamCreate: the name is assembled by token
# pasting (cuda##StreamCreateWithFlags), so the grep never sees it. The launcher queues the relu
# on a private cudaStreamNonBlocking stream, which does not synchronize with the legacy default
# stream: events recorded on stream 0 around the call (a naive timer) measure nothing, and the
# kernel is made slow on purpose (each thread spins ~2 ms on clock64 first) so the difference
# is unmistakable.
# Expected: the outputs are right (the verifier synchronizes the whole device before it reads
# them), so the candidate passes, but the timer must see the side stream's work: the driver
# asserts the timed median is at least `min-ms` (a stream-0-only timer would report ~0.01 ms).
import torch
import torch.nn as nn

from akg_agents.dsl.cuda_loader import load_cuda

SOURCE = r"""
#include <cstdint>
#include <cuda_runtime.h>

#define CUDA_API(name) cuda##name  // the static rule greps the source for the spelled-out name

__global__ void relu_kernel(const float* x, float* y, int64_t n, long long spin_cycles) {
    long long start = clock64();
    while (clock64() - start < spin_cycles) {}  // slow on purpose: ~2 ms at 2 GHz
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

static cudaStream_t side = nullptr;

extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    if (side == nullptr) CUDA_API(StreamCreateWithFlags)(&side, cudaStreamNonBlocking);
    relu_kernel<<<(unsigned)((n + 255) / 256), 256, 0, side>>>(x, y, n, 4000000LL);
}
"""
_lib = load_cuda(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu_forward(x, y, x.numel())
        return y
