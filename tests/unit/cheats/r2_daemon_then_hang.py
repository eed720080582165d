# expect: rejected host-processes
# r2_daemon_escapes, then a hang: the C++ double-forks a grandchild that calls setsid() (it leaves
# the job's process group, so the timeout's group kill misses it), then spins until the timeout.
# The escape must still be the verdict: when a timeout was read first, the task of such a
# candidate counted as "timeout (none was shown wrong)" in the bench, hiding the rejection. (The
# job's own group members killed with it at a timeout, a g++ mid-compile say, are not escapees.)
import torch
import torch.nn as nn

from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <sys/wait.h>
#include <unistd.h>

extern "C" void relu(const float* x, float* y, int64_t n) {
    pid_t child = fork();
    if (child == 0) {
        if (fork() == 0) {
            setsid();
            for (int fd = 0; fd < 1024; ++fd) close(fd);
            for (int i = 0; i < 120; ++i) usleep(250000);
            _exit(0);
        }
        _exit(0);
    }
    if (child > 0) waitpid(child, nullptr, 0);
    volatile int64_t i = 0;
    while (true) { i = i + 1; }
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
