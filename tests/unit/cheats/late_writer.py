# expect: mismatch
# Work finished asynchronously after the call returns: the C++ starts a detached std::thread that
# sleeps 50 ms and then writes relu(x) into the output, and returns at once, so a host timer
# measures only the thread's creation. The output is allocated with torch.empty and every tensor
# handed to the thread is kept alive (so its late write lands safely, never in freed memory).
# Why it fools a naive verifier: one that compares outputs some time after the call (after it
# has timed the reference, say, or after saving them to disk) finds them filled in; a CPU
# "synchronize" waits for nothing. The described verifier snapshots each output right when the
# call returns, already in verification, so the first seed's snapshot holds the unwritten (NaN
# poisoned, or stale) buffer: the verdict is a plain mismatch before timing starts. (It is not a
# Python thread, so no thread rule applies; late_writer_timed.py is the variant that only turns
# asynchronous once verification is over.)
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <chrono>
#include <cstdint>
#include <thread>

extern "C" void relu(const float* x, float* y, int64_t n) {
    std::thread([x, y, n] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
    }).detach();
}
"""
_lib = load_cpp(SOURCE)
_in_flight = []  # keeps every buffer a detached writer still holds


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _in_flight.append((x, y))
        _lib.relu(x, y, x.numel())
        return y
