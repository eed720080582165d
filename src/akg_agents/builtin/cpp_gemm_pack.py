"""C++ packing routines of the packed GEMM (cpp_gemm_kernel.py; PACK_A_ROWS also serves the implicit-GEMM
convolution, conv_gemm_cpp.py): the body of `pack_a` / `pack_b` for each operand layout, copying
rows k_lo..k_hi of one panel into its zero-padded, contiguous form, and the 8 x 8 AVX transpose a
transposed B's packing uses."""

from __future__ import annotations

PACK_A_ROWS = """  // A stored (M, K): row r of the panel is contiguous; K in chunks keeps the writes in cache
  for (int64_t k0 = k_lo; k0 < k_hi; k0 += PACK_K) {
    const int64_t k1 = std::min<int64_t>(k_hi, k0 + PACK_K);
    for (int64_t r = 0; r < MR; ++r) {
      if (r < rows) {
        const float* src = a + (i0 + r) * K;
        for (int64_t k = k0; k < k1; ++k) dst[(k - k_lo) * MR + r] = src[k];
      } else {
        for (int64_t k = k0; k < k1; ++k) dst[(k - k_lo) * MR + r] = 0.0f;
      }
    }
  }"""

PACK_A_COLS = """  // A stored (K, M) (a transposed operand): the panel's MR rows are contiguous per k
  (void)K;
  for (int64_t k = k_lo; k < k_hi; ++k) {
    const float* src = a + k * M + i0;
    for (int64_t r = 0; r < MR; ++r) dst[(k - k_lo) * MR + r] = r < rows ? src[r] : 0.0f;
  }"""

PACK_B_ROWS = """  // B stored (K, N): the panel's NR columns are contiguous per k
  (void)K;
  for (int64_t k = k_lo; k < k_hi; ++k) {
    const float* src = b + k * N + j0;
    float* d = dst + (k - k_lo) * NR;
    if (cols == NR) {
      #pragma omp simd
      for (int64_t c = 0; c < NR; ++c) d[c] = src[c];
    } else {
      for (int64_t c = 0; c < NR; ++c) d[c] = c < cols ? src[c] : 0.0f;
    }
  }"""

PACK_B_COLS = """  // B stored (N, K) (nn.Linear's weight, a transposed operand): column c is contiguous. A
  // transposing copy: 8 x 8 blocks through AVX registers where there are 8 whole columns and 8 k,
  // element by element at the edges (a scalar gather moves about one float per cycle).
  for (int64_t k0 = k_lo; k0 < k_hi; k0 += PACK_K) {
    const int64_t k1 = std::min<int64_t>(k_hi, k0 + PACK_K);
    int64_t c0 = 0;
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))  // immintrin.h (VECTOR_PRELUDE)
    for (; c0 + 8 <= cols; c0 += 8) {
      int64_t k = k0;
      for (; k + 8 <= k1; k += 8) transpose8(b + (j0 + c0) * K + k, K, dst + (k - k_lo) * NR + c0, NR);
      for (int64_t c = c0; c < c0 + 8; ++c)
        for (int64_t kk = k; kk < k1; ++kk) dst[(kk - k_lo) * NR + c] = b[(j0 + c) * K + kk];
    }
#endif
    for (int64_t c = c0; c < NR; ++c) {
      if (c < cols) {
        const float* src = b + (j0 + c) * K;
        for (int64_t k = k0; k < k1; ++k) dst[(k - k_lo) * NR + c] = src[k];
      } else {
        for (int64_t k = k0; k < k1; ++k) dst[(k - k_lo) * NR + c] = 0.0f;
      }
    }
  }"""

# dst[j * ldd + i] = src[i * lds + j] for an 8 x 8 block (AVX: unpack, shuffle, 128-bit permute).
TRANSPOSE8 = r"""
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))  // immintrin.h (VECTOR_PRELUDE)
static inline void transpose8(const float* __restrict__ src, int64_t lds, float* __restrict__ dst, int64_t ldd) {
  __m256 r[8], t[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * lds);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ldd, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
  }
}
#endif
"""
