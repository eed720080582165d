# expect: mismatch
# dsl: cuda_c
# Work launched after the call returns, from a host thread the Python side cannot see: the
# launcher starts a detached C++ thread that sleeps 50 ms and only then launches the relu on
# stream 0, so no synchronize (stream or device) issued when the call returns has anything to
# wait for. The static rules grep the source for std::thread; a namespace alias (sys::thread)
# slips past, and threading.active_count() does not count C++ threads. The Python side keeps
# every buffer alive, so the late write never lands in freed memory.
# Why it fools a naive verifier: one that reads the outputs long after the call (after timing
# the reference, or after writing them to disk) finds them written. The described verifier
# snapshots the output the moment the call (and the device) is done: the first seed's snapshot
# holds the unwritten (NaN-poisoned) buffer, a plain mismatch.
import torch
import torch.nn as nn

from akg_agents.dsl.cuda_loader import load_cuda

SOURCE = r"""
#include <chrono>
#include <cstdint>
#include <thread>
#include <cuda_runtime.h>

namespace sys = std;  // the static rule greps for the spelled-out name

__global__ void relu_kernel(const float* x, float* y, int64_t n) {
    int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    if (i < n) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

extern "C" void relu_forward(const float* x, float* y, int64_t n) {
    int device = 0;
    cudaGetDevice(&device);
    sys::thread([=] {
        sys::this_thread::sleep_for(sys::chrono::milliseconds(50));
        cudaSetDevice(device);
        relu_kernel<<<(unsigned)((n + 255) / 256), 256>>>(x, y, n);
    }).detach();
}
"""
_lib = load_cuda(SOURCE)
_in_flight = []  # keeps every buffer a late launch still writes or reads


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _in_flight.append((x, y))
        _lib.relu_forward(x, y, x.numel())
        return y
