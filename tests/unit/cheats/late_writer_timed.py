# expect: rejected host-threads
# late_writer.py made patient: the first 5 calls (every verification call) compute relu before
# returning; from the 6th on, the C++ hands the work to a detached std::thread that writes the
# output 50 ms later and returns at once, so the timed calls measure a thread start. Every tensor
# the writer touches is kept alive, so the late writes land safely.
# Why it fools a naive verifier: verification sees correct outputs, the CPU timer has nothing to
# synchronize with, and an output checked after timing (or only once, long after the call) has
# been filled in by then. Snapshotting each timed call's output as it returns catches it: the
# snapshot holds the unwritten buffer.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <chrono>
#include <cstdint>
#include <thread>

static int64_t calls = 0;

static void relu_now(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

extern "C" void relu(const float* x, float* y, int64_t n) {
    if (++calls <= 5) {
        relu_now(x, y, n);
        return;
    }
    std::thread([x, y, n] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        relu_now(x, y, n);
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
