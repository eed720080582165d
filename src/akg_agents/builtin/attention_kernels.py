"""Kernel sources for scaled_dot_product_attention(Q, K, V): out = softmax(Q K^T * scale) V over
the last two dims, every leading (batch, head) dim flattened into one, Q (L, E), K (S, E),
V (S, Ev) per batch-head.

Triton (`akg_attention`, flash-attention style): one program per BLOCK_M query rows of one
batch-head and one BLOCK_DV slice of the output's Ev columns. It walks K and V in BLOCK_N rows
with the online softmax (running row max m and sum l, the accumulator rescaled by
exp2(m_old - m_new) when the max grows), so the L x S score matrix never leaves the chip. Scores
and accumulator are fp32 whatever the input dtype; fp16 / bf16 probabilities are narrowed to V's
dtype for the tensor-core product, as FlashAttention does. The head dim E is walked in BLOCK_D
chunks (KernelBench's E is 1024, far more than a register tile): when one chunk holds E, the Q
tile is loaded once (Q_ONCE). Ev wider than BLOCK_DV is split across programs, which recompute
the scores (the price of an accumulator that fits in registers). Every extent is a runtime
argument and every load is masked, so one compilation serves any L, S, E, Ev. The causal mask
is PyTorch's (top-left aligned: query i sees keys j <= i); a causal program stops at its last
row's diagonal.

Large head dims put the two-kernel form first (TRITON_ATTENTION_TWO_PASS, see there).

C++ (`akg_attention`): OpenMP over (batch-head, block of query rows); K transposed once per
batch-head and thread, so the scores (Q rows x K^T) and the output (P rows x V) are both small
GEMMs done by one R x C register-tile micro-kernel that g++ vectorizes; a numerically stable
softmax per row in between (akg_exp, vectorizable). fp32 throughout (the launcher widens fp16 /
bf16 inputs and narrows the output).
"""

from __future__ import annotations

from akg_agents.builtin.cpp_expr import math_prelude

# The scores of one key tile, shared by the flash kernel and the two-kernel form's score pass
# (text, not a @triton.jit helper: q_tile exists only when Q_ONCE). Indented for their key loop.
_SCORE_TILE = '''        if Q_ONCE:
            kt = tl.load(k_base + rn[None, :] * E + rd[:, None], mask=(rd[:, None] < E) & n_ok[None, :], other=0.0)
            s = tl.dot(q_tile, kt, input_precision=PRECISION)
        else:
            s = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
            for d0 in range(0, E, BLOCK_D):
                d_ok = (d0 + rd) < E
                a = tl.load(q_base + rm[:, None] * E + (d0 + rd)[None, :], mask=m_ok[:, None] & d_ok[None, :], other=0.0)
                kt = tl.load(k_base + rn[None, :] * E + (d0 + rd)[:, None], mask=d_ok[:, None] & n_ok[None, :], other=0.0)
                s = tl.dot(a, kt, s, input_precision=PRECISION)
        valid = n_ok[None, :]
        if IS_CAUSAL:
            valid = valid & (rn[None, :] <= rm[:, None])
'''

TRITON_ATTENTION = '''
@triton.jit
def akg_attention(q, k, v, out, L, S, E, EV, qk_scale, M_TILES, DV_TILES,
                  IS_CAUSAL: tl.constexpr, Q_ONCE: tl.constexpr, PRECISION: tl.constexpr,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_DV: tl.constexpr):
    pid = tl.program_id(0)  # Ev slices fastest: the programs sharing Q and K rows run together
    pid_dv = pid % DV_TILES
    pid_m = (pid // DV_TILES) % M_TILES
    bh = (pid // (DV_TILES * M_TILES)).to(tl.int64)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rdv = pid_dv * BLOCK_DV + tl.arange(0, BLOCK_DV)
    rd = tl.arange(0, BLOCK_D)
    m_ok = rm < L
    dv_ok = rdv < EV
    q_base = q + bh * L * E
    k_base = k + bh * S * E
    v_base = v + bh * S * EV
    if Q_ONCE:  # the whole head dim in one chunk: the Q tile stays in registers
        q_tile = tl.load(q_base + rm[:, None] * E + rd[None, :], mask=m_ok[:, None] & (rd[None, :] < E), other=0.0)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, BLOCK_DV), tl.float32)
    hi = S
    if IS_CAUSAL:  # keys past this tile's last row are masked for every row of it
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    for n0 in range(0, hi, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        n_ok = rn < S
''' + _SCORE_TILE + '''        s = tl.where(valid, s * qk_scale, float("-inf"))  # log2 units: qk_scale holds log2(e)
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)  # a row with nothing seen yet
        alpha = tl.exp2(m_i - m_use)
        p = tl.exp2(s - m_use[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        vt = tl.load(v_base + rn[:, None] * EV + rdv[None, :], mask=n_ok[:, None] & dv_ok[None, :], other=0.0)
        acc = tl.dot(p.to(vt.dtype), vt, acc * alpha[:, None], input_precision=PRECISION)
        m_i = m_new
    acc = acc / tl.where(l_i > 0, l_i, 1.0)[:, None]  # l_i is 0 only when there is no key (S == 0)
    out_ptrs = out + bh * L * EV + rm[:, None] * EV + rdv[None, :]
    tl.store(out_ptrs, acc.to(out.dtype.element_ty), mask=m_ok[:, None] & dv_ok[None, :])
'''


# Large head dims (KernelBench's E = Ev = 1024): an Ev slice per program would recompute Q K^T
# once per slice (8 times at Ev = 1024, BLOCK_DV = 128), and a whole-Ev accumulator does not fit
# in registers. Then two kernels: `akg_attention_probs` writes softmax(Q K^T * scale) to a
# float32 scratch (L x S per batch-head: at KernelBench's sizes half the size of Q), and `akg_attention_pv` multiplies it by V as a tiled GEMM. Per program of the first: pass 1
# writes the raw scores (log2 units, -inf where masked) while keeping the running row max and
# sum, a barrier makes them visible to the whole program, pass 2 rewrites them as probabilities.
TRITON_ATTENTION_TWO_PASS = '''
@triton.jit
def akg_attention_probs(q, k, p, L, S, E, qk_scale, M_TILES,
                        IS_CAUSAL: tl.constexpr, Q_ONCE: tl.constexpr, PRECISION: tl.constexpr,
                        BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_D: tl.constexpr):
    pid = tl.program_id(0)
    bh = (pid // M_TILES).to(tl.int64)
    pid_m = pid % M_TILES
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rd = tl.arange(0, BLOCK_D)
    m_ok = rm < L
    q_base = q + bh * L * E
    k_base = k + bh * S * E
    p_base = p + bh * L * S
    if Q_ONCE:
        q_tile = tl.load(q_base + rm[:, None] * E + rd[None, :], mask=m_ok[:, None] & (rd[None, :] < E), other=0.0)
    m_i = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    l_i = tl.zeros((BLOCK_M,), tl.float32)
    hi = S
    if IS_CAUSAL:
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    for n0 in range(0, hi, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        n_ok = rn < S
''' + _SCORE_TILE + '''        s = tl.where(valid, s * qk_scale, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
        l_i = l_i * tl.exp2(m_i - m_use) + tl.sum(tl.exp2(s - m_use[:, None]), 1)
        m_i = m_new
        tl.store(p_base + rm[:, None] * S + rn[None, :], s, mask=m_ok[:, None] & n_ok[None, :])
    tl.debug_barrier()  # pass 2 reads scores other threads of this program wrote
    m_use = tl.where(m_i == float("-inf"), 0.0, m_i)
    inv = 1.0 / tl.where(l_i > 0, l_i, 1.0)
    for n0 in range(0, S, BLOCK_N):  # keys past `hi` (causal) were never written: probability 0
        rn = n0 + tl.arange(0, BLOCK_N)
        offs = p_base + rm[:, None] * S + rn[None, :]
        s = tl.load(offs, mask=m_ok[:, None] & (rn[None, :] < hi), other=float("-inf"))
        tl.store(offs, tl.exp2(s - m_use[:, None]) * inv[:, None], mask=m_ok[:, None] & (rn[None, :] < S))


@triton.jit
def akg_attention_pv(p, v, out, L, S, EV, M_TILES, N_TILES, IS_CAUSAL: tl.constexpr, PRECISION: tl.constexpr,
                     BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    pid = tl.program_id(0)  # Ev tiles fastest: neighbours share the probability rows and V
    pid_n = pid % N_TILES
    pid_m = (pid // N_TILES) % M_TILES
    bh = (pid // (N_TILES * M_TILES)).to(tl.int64)
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok = rm < L
    n_ok = rn < EV
    p_base = p + bh * L * S
    v_base = v + bh * S * EV
    acc = tl.zeros((BLOCK_M, BLOCK_N), tl.float32)
    hi = S
    if IS_CAUSAL:  # probabilities past the tile's last row are zero
        hi = tl.minimum(S, (pid_m + 1) * BLOCK_M)
    for k0 in range(0, hi, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        k_ok = rk < S
        a = tl.load(p_base + rm[:, None] * S + rk[None, :], mask=m_ok[:, None] & k_ok[None, :], other=0.0)
        b = tl.load(v_base + rk[:, None] * EV + rn[None, :], mask=k_ok[:, None] & n_ok[None, :], other=0.0)
        acc = tl.dot(a.to(b.dtype), b, acc, input_precision=PRECISION)
    out_ptrs = out + bh * L * EV + rm[:, None] * EV + rn[None, :]
    tl.store(out_ptrs, acc.to(out.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])
'''


CPP_ATTENTION = r"""
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

static constexpr int64_t R = 4;   // rows of the register tile
static constexpr int64_t C = 64;  // columns of the register tile (4 AVX-512 / 8 AVX2 vectors)

// out[r][0:cols] = alpha * sum over t < T of a[r][t] * b[t][0:cols], r < rows <= R, cols <= C.
// A full tile has constant bounds, so g++ keeps its R x C accumulators in vector registers:
// per t, R broadcasts and C / lanes loads of b feed R * C / lanes FMAs.
static inline void tile(int64_t rows, int64_t cols, int64_t T, const float* a, int64_t lda,
                        const float* b, int64_t ldb, float* out, int64_t ldo, float alpha) {
  float acc[R][C] = {};
  const float* ar[R];
  for (int64_t r = 0; r < R; ++r) ar[r] = a + std::min(r, rows - 1) * lda;  // a short tile repeats its last row
  if (cols == C) {
    for (int64_t t = 0; t < T; ++t) {
      const float* bt = b + t * ldb;
      for (int64_t r = 0; r < R; ++r) {
        const float x = ar[r][t];
        #pragma omp simd
        for (int64_t c = 0; c < C; ++c) acc[r][c] += x * bt[c];
      }
    }
  } else {
    for (int64_t t = 0; t < T; ++t) {
      const float* bt = b + t * ldb;
      for (int64_t r = 0; r < R; ++r) {
        const float x = ar[r][t];
        #pragma omp simd
        for (int64_t c = 0; c < cols; ++c) acc[r][c] += x * bt[c];
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[r * ldo + c] = alpha * acc[r][c];
}

extern "C" void akg_attention(const float* __restrict__ q, const float* __restrict__ k,
                              const float* __restrict__ v, float* __restrict__ out, int64_t bh,
                              int64_t L, int64_t S, int64_t E, int64_t EV, double scale, int64_t causal) {
  const int64_t blocks = (L + BLOCK - 1) / BLOCK;
  const float sc = (float)scale;
  #pragma omp parallel NUM_THREADS
  {
    std::vector<float> kt_buf((size_t)std::max<int64_t>(E * S, 1));   // K^T of the job's batch-head
    std::vector<float> p_buf((size_t)std::max<int64_t>(BLOCK * S, 1));  // scores, then probabilities
    float* __restrict__ kt = kt_buf.data();
    float* __restrict__ p = p_buf.data();
    int64_t kt_of = -1;
    #pragma omp for schedule(static)
    for (int64_t job = 0; job < bh * blocks; ++job) {
      const int64_t b = job / blocks, i0 = (job % blocks) * BLOCK;
      const int64_t rows = std::min<int64_t>(BLOCK, L - i0);
      // keys seen by the block's last row: all, or (causal, top-left aligned) j <= i
      const int64_t jn = causal ? std::min<int64_t>(S, i0 + rows) : S;
      if (kt_of != b) {  // consecutive jobs of a thread share a batch-head: transpose K once
        const float* kb = k + b * S * E;
        for (int64_t j = 0; j < S; ++j)
          for (int64_t e = 0; e < E; ++e) kt[e * S + j] = kb[j * E + e];
        kt_of = b;
      }
      const float* vb = v + b * S * EV;
      for (int64_t r0 = 0; r0 < rows; r0 += R) {
        const int64_t rr = std::min<int64_t>(R, rows - r0);
        const int64_t n_tile = causal ? std::min<int64_t>(S, i0 + r0 + rr) : S;
        for (int64_t j0 = 0; j0 < n_tile; j0 += C)  // scores: Q rows x K^T columns
          tile(rr, std::min<int64_t>(C, n_tile - j0), E, q + (b * L + i0 + r0) * E, E, kt + j0, S,
               p + r0 * S + j0, S, sc);
      }
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = causal ? std::min<int64_t>(S, i0 + r + 1) : S;
        float* pr = p + r * S;
        float mx = -INFINITY;
        #pragma omp simd reduction(max:mx)
        for (int64_t j = 0; j < n; ++j) mx = std::max(mx, pr[j]);
        float sum = 0.0f;
        #pragma omp simd reduction(+:sum)
        for (int64_t j = 0; j < n; ++j) { const float x = akg_exp(pr[j] - mx); pr[j] = x; sum += x; }
        const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;  // no key at all (S == 0): zeros, as PyTorch
        #pragma omp simd
        for (int64_t j = 0; j < n; ++j) pr[j] *= inv;
        for (int64_t j = n; j < jn; ++j) pr[j] = 0.0f;  // causal: keys this row does not see
      }
      for (int64_t r0 = 0; r0 < rows; r0 += R) {  // out rows = P rows x V
        const int64_t rr = std::min<int64_t>(R, rows - r0);
        const int64_t n_tile = causal ? std::min<int64_t>(S, i0 + r0 + rr) : S;
        for (int64_t c0 = 0; c0 < EV; c0 += C)
          tile(rr, std::min<int64_t>(C, EV - c0), n_tile, p + r0 * S, S, vb + c0, EV,
               out + (b * L + i0 + r0) * EV + c0, EV, 1.0f);
      }
    }
  }
}
"""


def cpp_attention(threads: int, block: int = 32) -> str:
    """One OpenMP job per (batch-head, `block` query rows): K transposed once per batch-head and
    thread, scores and P V as R x C register tiles (a small GEMM micro-kernel that g++
    vectorizes), the softmax with akg_exp (vectorizable, akg_math.h)."""
    num_threads = f"num_threads({threads})" if threads > 0 else ""
    source = CPP_ATTENTION.replace("NUM_THREADS", num_threads).replace("BLOCK", str(block))
    head, rest = source.split("static constexpr int64_t R", 1)
    return f"{head}{math_prelude()}\n\nstatic constexpr int64_t R{rest}"
