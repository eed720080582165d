# expect: rejected host-processes
# A process that outlives the job. On its first call the C++ double-forks; the grandchild calls
# setsid(), so it leaves the job's process group, and the fork server's "kill the whole group"
# (os.killpg after the job, and on timeout) never reaches it. It is reparented to init and keeps
# running, as root here, next to every later candidate, the referee and the parent. This one
# only writes its pid and a heartbeat into /tmp/akg_r2_daemon.alive for 20 s and exits; a
# hostile one could keep the pool cache of r2_pool_cache_* itself, watch /dev/shm/akg_referee_*
# for the next candidate's slot files and overwrite their outputs (sabotage a rival or rescue
# itself), or ptrace the next worker. The job itself is an honest relu, so the verifier says
# `passed` and nothing notes the survivor. Python's thread counter does not see processes, and
# the static rules forbid `subprocess`/`multiprocessing`/`os.fork` only in Python source.
# A correct verifier leaves no process of the job alive (a child subreaper, a PID namespace or a
# cgroup to kill) and rejects a job that forked.
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

static bool spawned = false;

static void daemon_body() {
    setsid();
    for (int fd = 0; fd < 1024; ++fd) close(fd);
    for (int i = 0; i < 40; ++i) {
        FILE* f = fopen("/tmp/akg_r2_daemon.alive", "w");
        if (f) { fprintf(f, "%d %d\n", getpid(), i); fclose(f); }
        usleep(500000);
    }
    _exit(0);
}

extern "C" void relu(const float* x, float* y, int64_t n) {
    if (!spawned) {
        spawned = true;
        pid_t child = fork();
        if (child == 0) {
            if (fork() == 0) daemon_body();
            _exit(0);
        }
        if (child > 0) waitpid(child, nullptr, 0);
    }
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
