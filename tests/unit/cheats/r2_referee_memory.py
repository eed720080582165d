# expect: mismatch
# Reads the answer out of the referee's memory. The referee calls prctl(PR_SET_DUMPABLE, 0) so
# that same-user processes cannot read /proc/PID/mem, but the worker runs as root here (CI
# containers usually do), and CAP_SYS_PTRACE overrides "not dumpable": root may open
# /proc/<referee>/mem of any process. The kernel:
#  1. finds which shared-memory file its input lives in (/proc/self/maps: the referee's input
#     slot, /dev/shm/akg_referee_*/out0_*), then the referee process that maps the same file
#     (several referees may be running on the machine: this picks the right one);
#  2. computes relu of the first 16 input elements only (a 64-byte search key: 0.1% of the
#     work) and searches the referee's anonymous read-write mappings for it (the reference
#     outputs of the verification seeds and of every pool entry live there, contiguous);
#  3. copies the remaining 16368 outputs from the referee (pread on /proc/PID/mem).
# It never computes relu on the rest; if the memory cannot be read it leaves zeros there, so on a
# verifier whose referee is out of reach the verdict is a mismatch. Today it passes. The same reads
# could give the whole pool of timed inputs and outputs before the first timed call (not tried).
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

struct Region { uint64_t lo, hi; };
static int mem_fd = -1;
static std::vector<Region> regions;
static int64_t last_hit = -1;

static std::string slot_of(const void* p) {
    FILE* f = fopen("/proc/self/maps", "r");
    char line[4096];
    std::string found;
    uint64_t a = (uint64_t)p;
    while (f && fgets(line, sizeof line, f)) {
        uint64_t lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) {
            const char* path = strchr(line, '/');
            if (path) { found = path; found.erase(found.find_last_not_of("\n") + 1); }
        }
    }
    if (f) fclose(f);
    return found;
}

static bool open_referee(const std::string& slot) {
    DIR* d = opendir("/proc");
    while (dirent* e = readdir(d)) {
        int pid = atoi(e->d_name);
        if (pid <= 0 || pid == getpid()) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/maps", pid);
        FILE* f = fopen(path, "r");
        if (!f) continue;
        char line[4096];
        bool mine = false;
        std::vector<Region> rw;
        while (fgets(line, sizeof line, f)) {
            uint64_t lo, hi; char perms[8];
            if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
            if (strstr(line, slot.c_str())) mine = true;
            const char* name = strchr(line, '/');
            bool anon = !name && !strstr(line, "[stack") && !strstr(line, "[v");
            if (perms[0] == 'r' && perms[1] == 'w' && anon) rw.push_back({lo, hi});
        }
        fclose(f);
        if (!mine) continue;
        snprintf(path, sizeof path, "/proc/%d/mem", pid);
        mem_fd = open(path, O_RDONLY);
        regions = rw;
        break;
    }
    closedir(d);
    return mem_fd >= 0;
}

static int64_t search(const Region& r, const float* key, int64_t keylen) {
    const size_t chunk = 4 << 20;
    std::vector<char> buf(chunk + keylen);
    for (uint64_t at = r.lo; at < r.hi; at += chunk) {
        size_t want = std::min<uint64_t>(chunk + keylen, r.hi - at);
        ssize_t got = pread(mem_fd, buf.data(), want, (off_t)at);
        if (got <= 0) break;
        void* hit = memmem(buf.data(), got, key, keylen);
        if (hit && ((uintptr_t)((char*)hit - buf.data()) % 4 == 0)) return (int64_t)(at + ((char*)hit - buf.data()));
    }
    return -1;
}

extern "C" void relu(const float* x, float* y, int64_t n) {
    const int64_t k = 16;
    for (int64_t i = 0; i < k && i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
    for (int64_t i = k; i < n; ++i) y[i] = 0.0f;
    if (mem_fd < 0) {
        std::string slot = slot_of(x);
        if (slot.empty() || !open_referee(slot)) return;
    }
    int64_t addr = -1;
    if (last_hit >= 0) addr = search(regions[last_hit], y, k * 4);
    for (size_t r = 0; addr < 0 && r < regions.size(); ++r) {
        addr = search(regions[r], y, k * 4);
        if (addr >= 0) last_hit = (int64_t)r;
    }
    if (addr >= 0) pread(mem_fd, y + k, (n - k) * 4, (off_t)(addr + k * 4));
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
