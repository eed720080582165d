# expect: rejected timed-output-mismatch
# Part 2 of 2 (after r2_pool_cache_1_record.py, same Verifier, same task). This kernel computes
# NOTHING: it looks the input's first 16 values up in the file part 1 wrote and copies the
# recorded answer (on a miss it writes zeros). The verification seeds are fixed, so they hit;
# the timed inputs come from the referee's pool, drawn once per prepared task and shared by every
# candidate (each session only reshuffles the order), so they hit too. Verdict today: passed,
# every timed output "correct", no relu ever computed. For relu the copy costs what the math
# costs; for a matmul or a convolution the lookup is the whole speedup. A later candidate of the
# same LLM run (or the same kernel when it is raced as a finalist) profits from what an earlier
# one wrote down. A correct verifier gives each session inputs no earlier candidate has seen:
# verification passes (the seeds are public), the first timed call misses.
# (Run alone, without part 1, the verdict is `mismatch`: the cache is empty.)
import torch
import torch.nn as nn
from akg_agents.dsl.cpp_loader import load_cpp

SOURCE = r"""
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

struct Entry { float key[16]; std::vector<float> out; };
static std::vector<Entry> bank;
static bool loaded = false;

extern "C" void relu(const float* x, float* y, int64_t n) {
    if (!loaded) {
        loaded = true;
        FILE* f = fopen("/tmp/akg_r2_pool_cache.bin", "rb");
        int64_t m;
        while (f && fread(&m, sizeof m, 1, f) == 1) {
            Entry e; e.out.resize(m);
            if (fread(e.key, sizeof(float), 16, f) != 16 || fread(e.out.data(), sizeof(float), m, f) != (size_t)m) break;
            bank.push_back(std::move(e));
        }
        if (f) fclose(f);
    }
    for (const Entry& e : bank) {
        if ((int64_t)e.out.size() == n && memcmp(e.key, x, sizeof e.key) == 0) {
            memcpy(y, e.out.data(), n * sizeof(float));
            return;
        }
    }
    memset(y, 0, n * sizeof(float));
}
"""
_lib = load_cpp(SOURCE)


class ModelNew(nn.Module):
    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
