# expect: rejected host-threads
# Work finished after the call returns, by a persistent NATIVE thread, fast enough to beat the
# worker's own bookkeeping. late_writer*.py wait 50 ms and are caught by the snapshot; this one
# does not wait at all. When the library loads, a constructor starts one std::thread that spins on an atomic
# "job" word. The first 4 calls (verification: seeds 0, 0 again, 1, 2) post the job and wait for
# it. Every later call (warmup and timed) only publishes (x, y, n) and returns; the helper (started by a constructor when the library loads) computes relu within a few microseconds. Between the timer stopping and
# the output being copied into the referee's slot (CPU: "the copy at submit is the snapshot"),
# the worker runs plain_outputs, the launch count, the aliasing check, the thread check and
# builds the descriptor: tens of microseconds of Python, longer than the helper needs (a thread
# that spins is always on a core). The thread is not a Python thread, so _thread's
# counter never sees it. The timed call measures a store to an atomic.
# What a correct verifier must say: the output was not there when the call returned
# (timed-output-mismatch), or native threads alive outside the call (host-threads).
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <atomic>
#include <cstdint>
#include <thread>

struct Job { const float* x; float* y; int64_t n; };
static Job job;
static std::atomic<int> state{0};  // 0 idle, 1 posted
static int64_t calls = 0;

static void helper() {
    for (;;) {
        while (state.load(std::memory_order_acquire) != 1) { }
        const float* x = job.x; float* y = job.y; int64_t n = job.n;
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
        state.store(0, std::memory_order_release);
    }
}

__attribute__((constructor)) static void start_helper() { std::thread(helper).detach(); }

extern "C" void relu(const float* x, float* y, int64_t n) {
    while (state.load(std::memory_order_acquire) != 0) { }  // the previous job is done
    job = Job{x, y, n};
    state.store(1, std::memory_order_release);
    if (++calls <= 4) while (state.load(std::memory_order_acquire) != 0) { }  // verification: wait
}
"""
_lib = load_cpp(SOURCE)
_alive = []  # keep every buffer the helper may still write


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _alive.append((x, y))
        _lib.relu(x, y, x.numel())
        return y
