# expect: rejected host-threads
# A persistent Python worker thread, started at IMPORT time (before forward is ever called)
# through `_thread` (not on the static rules' forbidden list, unlike `threading`). forward hands
# the job to the worker through a lock and returns at once. A thread check that only compares
# the threads alive before and after each forward call sees no new thread; one that compares
# against the threads alive before the candidate was imported does. The worker waits 50 ms before
# it computes (a lock acquire with a timeout: `time` is forbidden), so if no thread rule fires
# the output is deterministically unwritten and the verdict would be a mismatch instead.
import _thread

import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
extern "C" void relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void nothing(const float* x, float* y, int64_t n) {}
"""
_lib = load_cpp(SOURCE)
_jobs = []
_wake = _thread.allocate_lock()
_wake.acquire()
_never = _thread.allocate_lock()
_never.acquire()


def _worker():
    while True:
        _wake.acquire()
        _never.acquire(timeout=0.05)  # "sleep" 50 ms
        while _jobs:
            _lib.relu(*_jobs.pop(0))


_thread.start_new_thread(_worker, ())


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.keep = []  # buffers the worker still writes into

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        self.keep.append((x, y))
        _lib.nothing(x, y, 0)
        _jobs.append((x, y, x.numel()))
        if _wake.locked():
            _wake.release()
        return y
