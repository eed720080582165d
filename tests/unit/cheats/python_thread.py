# expect: rejected host-threads
# A Python thread without `import threading` (which the static rules forbid): the low-level
# `_thread` module is not on the forbidden list. forward launches a no-op kernel (so "a kernel was
# launched" holds at once), starts the real relu on a new thread with _thread.start_new_thread
# and returns the output before the thread has run, so the timed call measures only the thread
# start. Threads started this way are invisible to threading.enumerate() and
# threading.active_count(); sys._current_frames() (or _thread._count()) sees them.
# Without a thread rule it would come out as a (racy) mismatch or timed-output-mismatch.
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
_lib.relu(torch.zeros(1), torch.zeros(1), 1)  # fix the launcher's argument types before threads race
_in_flight = []  # keeps every buffer a background thread still holds


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _in_flight.append((x, y))
        _lib.nothing(x, y, 0)
        _thread.start_new_thread(_lib.relu, (x, y, x.numel()))
        return y
