# expect: runtime_error
# The C++ forks a child that stays in the job's process group (as a g++ or any helper would) and
# then crashes (SIGSEGV). The server kills the job's group with it: that child is collateral, not an
# escape (only a process that left the group with setsid is: r2_daemon_then_hang.py), so the
# verdict is the job's own, not "rejected host-processes".
import torch
import torch.nn as nn

from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <unistd.h>

extern "C" void relu(const float* x, float* y, int64_t n) {
    if (fork() == 0) {
        for (int i = 0; i < 120; ++i) usleep(250000);
        _exit(0);
    }
    usleep(200000);
    volatile int* p = nullptr;
    *p = 1;
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
