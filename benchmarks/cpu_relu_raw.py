"""ReLU over (1024, 4096) fp32 at 2 threads, every call on the same hot input and output: eager,
eager into a preallocated output, a copy, and four hand-written C++ loops (flat 512-bit, flat
256-bit, AVX2 and AVX-512 intrinsics; x86 with AVX-512 only). Shows whether a memory-bound kernel
can beat eager when nothing is cold: on the H200 host all sat at copy speed. Columns: median ms,
min ms.

    python benchmarks/cpu_relu_raw.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable
from typing import Any

import torch

from akg_agents.dsl.cpp_loader import load_cpp
from akg_agents.profile.timer import time_rotated

SOURCE = r"""
#include <cstdint>
#include <immintrin.h>
extern "C" void flat16(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  #pragma omp parallel for simd simdlen(16) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void flat8(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  #pragma omp parallel for simd simdlen(8) schedule(static)
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}
extern "C" void avx2(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  #pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n / 64; ++b) {
    for (int j = 0; j < 64; j += 8)
      _mm256_storeu_ps(y + b * 64 + j, _mm256_max_ps(_mm256_loadu_ps(x + b * 64 + j), _mm256_setzero_ps()));
  }
}
extern "C" void avx512(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
  #pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n / 64; ++b) {
    for (int j = 0; j < 64; j += 16)
      _mm512_storeu_ps(y + b * 64 + j, _mm512_max_ps(_mm512_loadu_ps(x + b * 64 + j), _mm512_setzero_ps()));
  }
}
"""


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    torch.set_num_threads(2)
    lib = load_cpp(SOURCE)
    x = torch.randn(1024, 4096)
    n = x.numel()
    out = torch.empty_like(x)
    calls: dict[str, Callable[[], Any]] = {
        "eager": lambda: torch.relu(x),
        "eager out=": lambda: torch.clamp_min(x, 0, out=out),
        "copy_": lambda: out.copy_(x),
        "empty+flat16": lambda: lib.flat16(x, torch.empty_like(x), n),
    }
    for name in ("flat16", "flat8", "avx2", "avx512"):
        calls[name] = lambda name=name: getattr(lib, name)(x, out, n)
    samples = time_rotated(calls, rounds)
    for name in calls:
        print(f"| relu raw | {name} | {statistics.median(samples[name]) * 1e3:.3f} | {min(samples[name]) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
