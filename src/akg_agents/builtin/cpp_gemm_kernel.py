"""C++ source of the packed, cache-blocked GEMM for a MatmulProgram (cpp_gemm.py builds the
candidates around it).

BLIS-style, sized at run time (M, N, K and the batch are arguments, so one compilation serves
every shape of the task's rank):

- operands are packed once per call into contiguous, zero-padded panels: A into MR-row panels
  (Ap[panel][k][0:MR]), B into NR-column panels (Bp[panel][k][0:NR]). A transposed operand is only
  a different gather in its packing routine (8 x 8 AVX transposes for a transposed B); the
  micro-kernel never sees edges (the padding holds zeros). With `a_in_place` / `b_in_place` a
  row-major operand's whole panels are read where they lie instead (the micro-kernel takes A's
  row stride and B's row stride); only edge panels are packed then;
- the output is cut into MC x NC tiles, OpenMP hands them out (rows of tiles fastest, so the two
  tiles running at once share their B panels); in a tile, K is walked in KC-deep slices, then the
  NR-wide B micro-panel (KC x NR floats, L1-sized) is held while every MR-row A micro-panel of the
  tile (the MC x KC block, L2-sized) streams past it;
- the micro-kernel keeps an MR x NR fp32 accumulator in vector registers (MR * NR / lanes FMA
  chains, one broadcast of A and NR / lanes loads of B per k) with FMA intrinsics: AVX-512 or
  AVX2 + FMA, GCC vector extensions elsewhere;
- the epilogue (triu / tril mask, bias, activation, residual ...: the program's expression over
  the fp32 accumulator) is applied once, on the last K slice, as the tile is stored;
- one output column or one output row (matrix-vector, vector-matrix) skips packing: a dot-product
  or an axpy GEMV over the operand as it lies in memory, then the epilogue.
"""

from __future__ import annotations

from akg_agents.builtin.cpp_expr import expr_c, math_prelude
from akg_agents.builtin.cpp_gemm_pack import PACK_A_COLS, PACK_A_ROWS, PACK_B_COLS, PACK_B_ROWS, TRANSPOSE8
from akg_agents.builtin.ir import Binary, Const, Expr, Load, Unary, Where
from akg_agents.builtin.matmul_ir import ACC_INPUT, Acc, MatmulProgram, acc_as_load

VECTOR_PRELUDE = r"""
#if defined(__AVX512F__)
#include <immintrin.h>
typedef __m512 vf;
static constexpr int64_t VL = 16;
static inline vf v_load(const float* p) { return _mm512_load_ps(p); }
static inline vf v_loadu(const float* p) { return _mm512_loadu_ps(p); }
static inline void v_storeu(float* p, vf x) { _mm512_storeu_ps(p, x); }
static inline vf v_set1(float x) { return _mm512_set1_ps(x); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf v_zero() { return _mm512_setzero_ps(); }
static inline void v_store(float* p, vf x) { _mm512_store_ps(p, x); }
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
typedef __m256 vf;
static constexpr int64_t VL = 8;
static inline vf v_load(const float* p) { return _mm256_load_ps(p); }
static inline vf v_loadu(const float* p) { return _mm256_loadu_ps(p); }
static inline void v_storeu(float* p, vf x) { _mm256_storeu_ps(p, x); }
static inline vf v_set1(float x) { return _mm256_set1_ps(x); }
static inline vf v_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf v_zero() { return _mm256_setzero_ps(); }
static inline void v_store(float* p, vf x) { _mm256_store_ps(p, x); }
#else
typedef float vf __attribute__((vector_size(16)));
static constexpr int64_t VL = 4;
static inline vf v_load(const float* p) { vf x; __builtin_memcpy(&x, p, sizeof x); return x; }
static inline vf v_loadu(const float* p) { return v_load(p); }
static inline void v_storeu(float* p, vf x) { __builtin_memcpy(p, &x, sizeof x); }
static inline vf v_set1(float x) { return vf{x, x, x, x}; }
static inline vf v_fma(vf a, vf b, vf c) { return a * b + c; }
static inline vf v_zero() { return vf{0.0f, 0.0f, 0.0f, 0.0f}; }
static inline void v_store(float* p, vf x) { __builtin_memcpy(p, &x, sizeof x); }
#endif
"""

# The register-tile product, shared with the convolution (conv_gemm_cpp.py): it needs MR, NR (constexpr
# int64_t), vf / VL (VECTOR_PRELUDE), and its @NV@ / @KUNROLL@ substituted.
MICRO_KERNEL = r"""// c[MR][NR] (row stride ldc) = Ap (kc x MR micro-panel) times Bp (kc x NR micro-panel), plus what c
// held when `accumulate`. Constant trip counts: g++ unrolls the r / v loops, the accumulators
// live in vector registers.
// A's element (r, k) is ap[k * AK + r * lda]: a packed micro-panel (AK = MR, lda = 1), or AK = 1 and
// lda = A's row stride to read MR rows of a row-major A where they lie (no packing). Row k of B's
// micro-panel starts at bp + k * ldb: packed (ldb = NR) or a row-major B read in place.
template <int64_t AK = MR>
static inline void micro(int64_t kc, const float* __restrict__ ap, const float* __restrict__ bp,
                         float* __restrict__ c, int64_t ldc, bool accumulate, int64_t lda = 1, int64_t ldb = NR) {
  vf acc[MR][@NV@];
  #pragma GCC unroll 32
  for (int64_t r = 0; r < MR; ++r) {
    #pragma GCC unroll 8
    for (int64_t v = 0; v < @NV@; ++v) acc[r][v] = accumulate ? v_loadu(c + r * ldc + v * VL) : v_zero();
  }
  #pragma GCC unroll @KUNROLL@
  for (int64_t k = 0; k < kc; ++k) {
    vf b[@NV@];
    #pragma GCC unroll 8
    for (int64_t v = 0; v < @NV@; ++v) b[v] = v_loadu(bp + k * ldb + v * VL);
    #pragma GCC unroll 32
    for (int64_t r = 0; r < MR; ++r) {
      const vf a = v_set1(ap[k * AK + r * lda]);
      #pragma GCC unroll 8
      for (int64_t v = 0; v < @NV@; ++v) acc[r][v] = v_fma(a, b[v], acc[r][v]);
    }
  }
  #pragma GCC unroll 32
  for (int64_t r = 0; r < MR; ++r) {
    #pragma GCC unroll 8
    for (int64_t v = 0; v < @NV@; ++v) v_storeu(c + r * ldc + v * VL, acc[r][v]);
  }
}

"""

KERNEL = r"""
static constexpr int64_t MR = @MR@;           // rows of the register tile
static constexpr int64_t NR = @NV@ * VL;      // columns of the register tile
static constexpr int64_t MC = @MC@;           // rows of an output tile (a multiple of MR)
static constexpr int64_t KC = @KC@;           // depth of a K slice
static constexpr int64_t NC = @NC@;           // columns of an output tile (a multiple of NR)
static constexpr int64_t PACK_K = 64;         // K chunk of the strided packing loops
static constexpr bool ROWS_OUTER = @ROWS_OUTER@;
static constexpr bool DIRECT = @DIRECT@;  // the epilogue is the product itself
static constexpr bool A_IN_PLACE = @A_IN_PLACE@;  // A row-major and not packed (a_in_place)
static constexpr bool B_IN_PLACE = @B_IN_PLACE@;  // B row-major and not packed (b_in_place)

@MICRO@@TRANSPOSE8@// Rows k_lo..k_hi of panel `p` of A (logical M x K) as dst[k - k_lo][0:MR], rows past M zero.
static void pack_a(const float* __restrict__ a, int64_t M, int64_t K, int64_t p, float* __restrict__ dst,
                   int64_t k_lo, int64_t k_hi) {
  const int64_t i0 = p * MR, rows = std::min<int64_t>(MR, M - i0);
@PACK_A@
}

// Rows k_lo..k_hi of panel `p` of B (logical K x N) as dst[k - k_lo][0:NR], columns past N zero.
static void pack_b(const float* __restrict__ b, int64_t N, int64_t K, int64_t p, float* __restrict__ dst,
                   int64_t k_lo, int64_t k_hi) {
  const int64_t j0 = p * NR, cols = std::min<int64_t>(NR, N - j0);
@PACK_B@
}

// One row segment of the output: value = acc (+ what earlier K slices stored), on the last
// slice through the epilogue. `src` may be `orow` itself (the GEMV path).
static inline void store_row(const float* src, float* orow, @EXTRA_PARAMS@int64_t b, int64_t m, int64_t j0,
                             int64_t cols, int64_t M, int64_t N, bool first, bool last) {
  (void)b; (void)M; (void)N;
  if (!last) {
    if (first) {
      #pragma omp simd
      for (int64_t c = 0; c < cols; ++c) orow[c] = src[c];
    } else {
      #pragma omp simd
      for (int64_t c = 0; c < cols; ++c) orow[c] += src[c];
    }
    return;
  }
  if (first) {
    #pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t n = j0 + c;
      (void)n;
      float acc = src[c];
@TRIANGLE@      orow[c] = @EPILOGUE@;
    }
  } else {
    #pragma omp simd
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t n = j0 + c;
      (void)n;
      float acc = orow[c] + src[c];
@TRIANGLE@      orow[c] = @EPILOGUE@;
    }
  }
}

@DEAD_TILE@

// y[i] = sum_k mat(i, k) v[k], i < I: mat(i, k) = mat[i * ld + k] (dot form) or mat[k * ld + i]
// (axpy form). The matrix is read once, as it lies: no packing for a single output row / column.
static void gemv(const float* __restrict__ mat, int64_t ld, bool dot_form, const float* __restrict__ v,
                 int64_t I, int64_t K, float* __restrict__ y) {
  if (dot_form) {  // 4 rows at a time, 2 vectors each: 8 independent FMA chains per loaded v
    #pragma omp for schedule(dynamic, 4)
    for (int64_t i0 = 0; i0 < I; i0 += 4) {
      const int64_t rows = std::min<int64_t>(4, I - i0);
      const float* row[4];
      for (int64_t r = 0; r < 4; ++r) row[r] = mat + (i0 + std::min<int64_t>(r, rows - 1)) * ld;
      vf acc[4][2];
      for (int64_t r = 0; r < 4; ++r) { acc[r][0] = v_zero(); acc[r][1] = v_zero(); }
      int64_t k = 0;
      for (; k + 2 * VL <= K; k += 2 * VL) {
        const vf x0 = v_loadu(v + k), x1 = v_loadu(v + k + VL);
        #pragma GCC unroll 4
        for (int64_t r = 0; r < 4; ++r) {
          acc[r][0] = v_fma(v_loadu(row[r] + k), x0, acc[r][0]);
          acc[r][1] = v_fma(v_loadu(row[r] + k + VL), x1, acc[r][1]);
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        alignas(64) float lanes[2 * VL];
        v_store(lanes, acc[r][0]);
        v_store(lanes + VL, acc[r][1]);
        float s = 0.0f;
        for (int64_t e = 0; e < 2 * VL; ++e) s += lanes[e];
        for (int64_t t = k; t < K; ++t) s += row[r][t] * v[t];
        y[i0 + r] = s;
      }
    }
  } else {
    constexpr int64_t CH = 256;
    #pragma omp for schedule(dynamic, 1)
    for (int64_t i0 = 0; i0 < I; i0 += CH) {
      const int64_t cols = std::min<int64_t>(CH, I - i0);
      alignas(64) float acc[CH] = {};
      for (int64_t k = 0; k < K; ++k) {
        const float x = v[k];
        const float* row = mat + k * ld + i0;
        #pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[c] += x * row[c];
      }
      for (int64_t c = 0; c < cols; ++c) y[i0 + c] = acc[c];
    }
  }
}

static inline float* aligned(float* p) { return p + (16 - ((uintptr_t)p / sizeof(float)) % 16) % 16; }

static thread_local std::vector<float> own_a, own_b;  // private panels (see `panel`)
static constexpr int64_t PARALLEL_MIN = 1 << 20;     // fewer multiply-adds: one thread

// The packed panel whose state is `*st`: the first thread to claim it packs all of K into
// `shared` and publishes it; a thread finding it claimed but unfinished does not wait, it packs
// the K slice it needs into a private copy. Returns the panel's base (read at k0 .. k0 + kc).
template <typename Pack>
static inline const float* panel(int* st, float* shared, std::vector<float>& own, int64_t width, int64_t K,
                                 int64_t k0, int64_t kc, Pack pack) {
  if (__atomic_load_n(st, __ATOMIC_ACQUIRE) == 2) return shared;
  int expected = 0;
  if (__atomic_compare_exchange_n(st, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    pack(shared, 0, K);
    __atomic_store_n(st, 2, __ATOMIC_RELEASE);
    return shared;
  }
  if (expected == 2) return shared;
  if ((int64_t)own.size() < width * K + 16) own.resize((size_t)(width * K + 16));
  float* mine = aligned(own.data());
  pack(mine + k0 * width, k0, k0 + kc);
  return mine;
}

// Long K and a small output (few tiles, each re-reading whole panels): K is cut into chunks, one
// per job; a job packs its own K slices of every panel (nothing is shared) and accumulates the whole
// output into its partial buffer; the partials are then summed and the epilogue applied.
static void split_k(const float* a, const float* b, float* out, @EXTRA_PARAMS@int64_t M, int64_t N, int64_t K,
                    int threads) {
  const int64_t mp = (M + MR - 1) / MR, np = (N + NR - 1) / NR;
  const int64_t chunks = threads > 1 ? std::min<int64_t>(2 * threads, (K + KC - 1) / KC) : 1;
  const int64_t per = (((K + chunks - 1) / chunks + KC - 1) / KC) * KC;
  thread_local std::vector<float> partial;
  if ((int64_t)partial.size() < chunks * M * N) partial.resize((size_t)(chunks * M * N));
  float* parts = partial.data();
  #pragma omp parallel num_threads(threads)
  {
    alignas(64) float tmp[MR * NR];
    #pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t lo = std::min(K, c * per), hi = std::min(K, lo + per);
      float* part = parts + c * M * N;
      if (lo >= hi) {
        std::fill(part, part + M * N, 0.0f);
        continue;
      }
      if ((int64_t)own_a.size() < mp * MR * KC + 16) own_a.resize((size_t)(mp * MR * KC + 16));
      if ((int64_t)own_b.size() < np * NR * KC + 16) own_b.resize((size_t)(np * NR * KC + 16));
      float* ap = aligned(own_a.data());
      float* bp = aligned(own_b.data());
      for (int64_t k0 = lo; k0 < hi; k0 += KC) {
        const int64_t kc = std::min<int64_t>(KC, hi - k0);
        for (int64_t p = 0; p < mp; ++p) pack_a(a, M, K, p, ap + p * MR * kc, k0, k0 + kc);
        for (int64_t p = 0; p < np; ++p) pack_b(b, N, K, p, bp + p * NR * kc, k0, k0 + kc);
        for (int64_t ip = 0; ip < mp; ++ip) {
          const int64_t i0 = ip * MR, rows = std::min<int64_t>(MR, M - i0);
          for (int64_t jp = 0; jp < np; ++jp) {
            const int64_t j0 = jp * NR, cols = std::min<int64_t>(NR, N - j0);
            if (rows == MR && cols == NR) {
              micro(kc, ap + ip * MR * kc, bp + jp * NR * kc, part + i0 * N + j0, N, k0 > lo);
              continue;
            }
            micro(kc, ap + ip * MR * kc, bp + jp * NR * kc, tmp, NR, false);
            for (int64_t r = 0; r < rows; ++r) {
              float* row = part + (i0 + r) * N + j0;
              for (int64_t e = 0; e < cols; ++e) row[e] = (k0 > lo ? row[e] : 0.0f) + tmp[r * NR + e];
            }
          }
        }
      }
    }
    #pragma omp for schedule(static)
    for (int64_t m = 0; m < M; ++m) {
      float* orow = out + m * N;
      #pragma omp simd
      for (int64_t e = 0; e < N; ++e) orow[e] = parts[m * N + e];
      for (int64_t c = 1; c < chunks; ++c) {
        const float* prow = parts + c * M * N + m * N;
        #pragma omp simd
        for (int64_t e = 0; e < N; ++e) orow[e] += prow[e];
      }
      store_row(orow, orow, @EXTRA_ARGS@0, m, 0, N, M, N, true, true);
    }
  }
}

extern "C" void akg_kernel(@SIGNATURE@, float* __restrict__ out, int64_t batch, int64_t M, int64_t N, int64_t K) {
  const float* a_all = in@A@;
  const float* b_all = in@B@;
  if (batch <= 0 || M <= 0 || N <= 0) return;
  if (N == 1 || M == 1) {  // matrix-vector / vector-matrix: no packing
    #pragma omp parallel @THREADS@ if (batch * M * N * K >= PARALLEL_MIN / 4)
    for (int64_t b = 0; b < batch; ++b) {
      const float* a = a_all + b * M * K;
      const float* bm = b_all + b * K * N;
      float* o = out + b * M * N;
      if (N == 1) gemv(a, @A_LD@, @A_DOT@, bm, M, K, o);  // out[m] = A(m, :) . b
      else gemv(bm, @B_LD@, @B_DOT@, a, N, K, o);         // out[n] = B(:, n) . a
      #pragma omp barrier
      #pragma omp for schedule(dynamic, 256)
      for (int64_t m = 0; m < M; ++m) store_row(o + m * N, o + m * N, @EXTRA_ARGS@b, m, 0, N, M, N, true, true);
    }
    return;
  }
  int threads = @NUM_THREADS@;
  if (threads <= 0) threads = omp_get_max_threads();
  if (batch == 1 && K >= 4 * std::max(M, N) && K >= 2 * KC && M * N * K >= PARALLEL_MIN) {
    split_k(a_all, b_all, out, @EXTRA_ARGS@M, N, K, threads);
    return;
  }
  const int64_t mp = (M + MR - 1) / MR, np = (N + NR - 1) / NR;
  const int64_t a_size = ((mp * MR * K + 15) / 16) * 16, b_size = ((np * NR * K + 15) / 16) * 16;
  thread_local std::vector<float> buffer;  // reused across calls: no page faults per call
  thread_local std::vector<int> state;     // per panel: 0 not packed, 1 being packed, 2 packed
  const size_t need = (size_t)(batch * (a_size + b_size) + 16);
  if (buffer.size() < need) buffer.resize(need);
  state.assign((size_t)(batch * (mp + np)), 0);
  float* ap = aligned(buffer.data());
  float* bp = ap + batch * a_size;
  int* a_state = state.data();
  int* b_state = a_state + batch * mp;
  const int64_t mcp = MC / MR;
  const int64_t tiles_m = (mp + mcp - 1) / mcp;
  int64_t ncp = NC / NR;
  if (batch * tiles_m * ((np + ncp - 1) / ncp) < 4 * threads) {  // too few tiles: narrower columns
    const int64_t want = (4 * threads + batch * tiles_m - 1) / (batch * tiles_m);
    ncp = std::max<int64_t>(1, (np + want - 1) / want);
  }
  const int64_t tiles_n = (np + ncp - 1) / ncp;
  const int64_t tiles = batch * tiles_m * tiles_n;
  const int64_t slices = std::max<int64_t>(1, (K + KC - 1) / KC);
  // One worksharing loop and no barrier before it: panels are packed lazily by the first tile
  // that needs them (see `panel`), so a thread the OS has descheduled never holds the others up.
  #pragma omp parallel @THREADS@ if (batch * M * N * K >= PARALLEL_MIN)
  {
    alignas(64) float tmp[MR * NR];
    #pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t b = t / (tiles_m * tiles_n), im = t % tiles_m, jn = (t / tiles_m) % tiles_n;
      const float* a_mat = a_all + b * M * K;
      const float* b_mat = b_all + b * K * N;
      const int64_t ip_end = std::min(mp, (im + 1) * mcp), jp_end = std::min(np, (jn + 1) * ncp);
      for (int64_t s = 0; s < slices; ++s) {
        const int64_t k0 = s * KC, kc = std::min<int64_t>(KC, K - k0);
        const int64_t n_ip = ip_end - im * mcp, n_jp = jp_end - jn * ncp;
        for (int64_t u = 0; u < n_ip * n_jp; ++u) {
          // ROWS_OUTER: a band of MR rows is finished left to right (output written row-sequentially,
          // the A micro-panel held in L1); else a B micro-panel is held while the rows stream past.
          const int64_t ip = im * mcp + (ROWS_OUTER ? u / n_jp : u % n_ip);
          const int64_t jp = jn * ncp + (ROWS_OUTER ? u % n_jp : u / n_ip);
          const int64_t j0 = jp * NR, cols = std::min<int64_t>(NR, N - j0);
          const int64_t i0 = ip * MR, rows = std::min<int64_t>(MR, M - i0);
          if (dead_tile(i0, j0)) {
            for (int64_t e = 0; e < MR * NR; ++e) tmp[e] = 0.0f;
          } else {
            const float* pb = B_IN_PLACE && cols == NR ? b_mat + j0 : nullptr;
            if (!pb) pb = panel(b_state + b * np + jp, bp + b * b_size + jp * NR * K, own_b, NR, K, k0, kc,
                                [&](float* dst, int64_t lo, int64_t hi) { pack_b(b_mat, N, K, jp, dst, lo, hi); });
            const int64_t ldb = B_IN_PLACE && cols == NR ? N : NR;
            float* c = DIRECT && rows == MR && cols == NR ? out + (b * M + i0) * N + j0 : tmp;
            const int64_t ldc = c == tmp ? NR : N;
            const bool accumulate = c != tmp && s > 0;  // no epilogue: accumulate in the output itself
            if (A_IN_PLACE && rows == MR) {  // MR whole rows of a row-major A: read where they lie
              micro<1>(kc, a_mat + i0 * K + k0, pb + k0 * ldb, c, ldc, accumulate, K, ldb);
            } else {
              const float* pa = panel(a_state + b * mp + ip, ap + b * a_size + ip * MR * K, own_a, MR, K, k0, kc,
                                      [&](float* dst, int64_t lo, int64_t hi) { pack_a(a_mat, M, K, ip, dst, lo, hi); });
              micro(kc, pa + k0 * MR, pb + k0 * ldb, c, ldc, accumulate, 1, ldb);
            }
            if (c != tmp) continue;
          }
          for (int64_t r = 0; r < rows; ++r)
            store_row(tmp + r * NR, out + (b * M + i0 + r) * N + j0, @EXTRA_ARGS@b, i0 + r, j0, cols, M, N,
                      s == 0, s == slices - 1);
        }
      }
    }
  }
}
"""

class EpilogueNotCovered(ValueError):
    """The epilogue uses a leaf the GEMM's store loop does not index (row / column numbers ...)."""


def _check_leaves(expr: Expr) -> None:
    if isinstance(expr, (Load, Const)):
        return
    if isinstance(expr, Unary):
        _check_leaves(expr.a)
    elif isinstance(expr, Binary):
        _check_leaves(expr.a)
        _check_leaves(expr.b)
    elif isinstance(expr, Where):
        _check_leaves(expr.cond)
        _check_leaves(expr.a)
        _check_leaves(expr.b)
    else:
        raise EpilogueNotCovered(f"an epilogue leaf {type(expr).__name__}")


def epilogue_c(program: MatmulProgram) -> str:
    """The epilogue as a C expression over `acc` and the extra inputs at output (b, m, n)."""
    expr = acc_as_load(program.epilogue)
    _check_leaves(expr)
    names = {ACC_INPUT: "acc"}
    for i in program.extras:
        kind = program.inputs[i].kind
        if kind == "full":
            names[i] = f"in{i}[(b * M + m) * N + n]"
        elif kind == "col":
            names[i] = f"in{i}[n]"
        elif kind == "scalar":
            names[i] = f"in{i}[0]"
        else:
            raise EpilogueNotCovered(f"an epilogue input of kind {kind}")
    return expr_c(expr, names)


def _triangle(program: MatmulProgram) -> tuple[str, str]:
    """(the store loop's mask line, the dead_tile function): triu keeps n - m >= diagonal, tril
    n - m <= diagonal; a register tile wholly outside the triangle skips its products."""
    d = program.diagonal
    if program.triangle == "upper":
        return (f"      acc = (n - m >= {d}) ? acc : 0.0f;\n",
                f"static inline bool dead_tile(int64_t i0, int64_t j0) {{ return (j0 + NR - 1) - i0 < {d}; }}")
    if program.triangle == "lower":
        return (f"      acc = (n - m <= {d}) ? acc : 0.0f;\n",
                f"static inline bool dead_tile(int64_t i0, int64_t j0) {{ return j0 - (i0 + MR - 1) > {d}; }}")
    return "", "static inline bool dead_tile(int64_t, int64_t) { return false; }"


def gemm_cpp(program: MatmulProgram, mr: int, nv: int, mc: int, kc: int, nc: int, threads: int,
             rows_outer: bool = False, k_unroll: int = 1, a_in_place: bool = False,
             b_in_place: bool = False) -> str:
    """The kernel's C++ source. `mc` is rounded to a multiple of `mr`; `nc` counts NR panels."""
    n_in = len(program.inputs)
    extras = program.extras
    mask, dead = _triangle(program)
    subs = {
        "@MR@": str(mr), "@NV@": str(nv), "@MC@": str(max(mr, mc // mr * mr)), "@KC@": str(kc),
        "@NC@": f"({nc} * NR)",
        "@PACK_A@": PACK_A_COLS if program.a_transposed else PACK_A_ROWS,
        "@PACK_B@": PACK_B_COLS if program.b_transposed else PACK_B_ROWS,
        "@EXTRA_PARAMS@": "".join(f"const float* __restrict__ in{i}, " for i in extras),
        "@EXTRA_ARGS@": "".join(f"in{i}, " for i in extras),
        "@TRIANGLE@": mask, "@DEAD_TILE@": dead, "@EPILOGUE@": epilogue_c(program),
        "@SIGNATURE@": ", ".join(f"const float* __restrict__ in{i}" for i in range(n_in)),
        "@A@": str(program.a), "@B@": str(program.b),
        # A (M x K) as gemv's matrix over i = m: stored (M, K) -> dot form; (K, M) -> axpy form.
        "@A_LD@": "M" if program.a_transposed else "K", "@A_DOT@": "false" if program.a_transposed else "true",
        # B^T (N x K) as gemv's matrix over i = n: stored (N, K) -> dot form; (K, N) -> axpy form.
        "@B_LD@": "K" if program.b_transposed else "N", "@B_DOT@": "true" if program.b_transposed else "false",
        "@THREADS@": f"num_threads({threads})" if threads > 0 else "",
        "@NUM_THREADS@": str(threads), "@ROWS_OUTER@": "true" if rows_outer else "false",
        "@KUNROLL@": str(k_unroll),
        "@A_IN_PLACE@": "true" if a_in_place and not program.a_transposed else "false",
        "@B_IN_PLACE@": "true" if b_in_place and not program.b_transposed else "false",
        "@DIRECT@": "true" if program.epilogue == Acc() and not program.triangle else "false",
    }
    # the 8 x 8 transpose is only called by a transposed B's packing
    transpose = TRANSPOSE8 if program.b_transposed else ""
    body = KERNEL.replace("@MICRO@", MICRO_KERNEL).replace("@TRANSPOSE8@", transpose)
    for key, value in subs.items():
        body = body.replace(key, value)
    headers = "#include <algorithm>\n#include <cmath>\n#include <cstdint>\n#include <vector>\n#include <omp.h>\n"
    return f"{headers}{VECTOR_PRELUDE}\n{math_prelude()}\n{body}"
