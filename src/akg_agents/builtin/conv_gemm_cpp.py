"""C++ convolution as an implicit-im2col GEMM (nn.Conv1d/2d/3d: stride, padding, dilation, groups,
bias), a candidate of the cpp generator beside the PolyTOPS loop nests (the race picks).

Per group g the convolution is a product: out[n, g, co, p] = sum_k W[g, co, k] * X[k, p] with
co < C_out/groups (GEMM rows), p the output positions (columns, contiguous in NC(D)HW) and k =
(ci, taps) (depth C_in/groups * taps). X is im2col's matrix, never built whole: a job (one image,
one group, NR output positions) packs its KC x NR slice of X into a private L2-sized panel, zero
where a tap falls in the padding, and runs it against every packed weight panel with the packed
GEMM's register-tile micro-kernel (cpp_gemm_kernel.MICRO_KERNEL, MR x NV vectors of fp32 FMAs),
which writes straight into the output (its rows are output channels, its NR columns consecutive
positions). The weights are packed once per call (MR-row panels, zero rows past C_out/groups), by
all threads before the jobs. A panel's positions are runs along the last spatial dim: with stride
1 each run of one tap row is a contiguous copy of an input row segment.

Spatial dims are padded to three (size 1), so one source serves 1-D, 2-D and 3-D layers; sizes
are run-time arguments (any input of the layer's rank). fp16 / bf16 tasks run on a float32 copy,
accumulate in fp32 and are narrowed back, like the other cpp kernels. Layers with fewer than
MIN_CHANNELS output channels per group (depthwise) are left to the loop nests: most of a
register tile would be padding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from akg_agents.builtin.conv_triton import _check, _init
from akg_agents.builtin.cpp_gemm import fill_with_nests
from akg_agents.builtin.cpp_gemm_kernel import MICRO_KERNEL, VECTOR_PRELUDE
from akg_agents.builtin.cpp_gemm_pack import PACK_A_ROWS
from akg_agents.builtin.layer_task import TUPLE_HELPER, LayerTask, layer_model_new
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Candidate, Task

KERNEL = r"""
static constexpr int64_t MR = @MR@;       // output channels of the register tile
static constexpr int64_t NR = @NV@ * VL;  // output positions of the register tile (= of a job)
static constexpr int64_t KC = @KC@;       // most rows of a packed slice of X (input channels x taps): KC x NR in L1

@MICRO@
static inline float* aligned(float* p) { return p + (16 - ((uintptr_t)p / sizeof(float)) % 16) % 16; }
static inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Panel `p` of a group's weights `a` (M = COG rows of K) as dst[k][0:MR], rows past M zero: the
// GEMM's own A packing (cpp_gemm_pack.PACK_A_ROWS), over all of K.
static constexpr int64_t PACK_K = 64;
static void pack_a(const float* __restrict__ a, int64_t M, int64_t K, int64_t p, float* __restrict__ dst,
                   int64_t k_lo, int64_t k_hi) {
  const int64_t i0 = p * MR, rows = std::min<int64_t>(MR, M - i0);
@PACK_A@
}

struct Run { int64_t c, o0, o1, o2, len; };  // positions c .. c+len of a panel: one output row segment

struct Geometry {
  int64_t I0, I1, I2, O1, O2, K0, K1, K2, S0, S1, S2, P0, P1, P2, D0, D1, D2;
};

// Rows k_lo..k_hi of im2col's X for the panel's positions (runs[0..nr]) as dst[k - k_lo][0:NR]:
// X[k][p] = x[ci][o0*S0 + k0*D0 - P0][o1*S1 + k1*D1 - P1][o2*S2 + k2*D2 - P2] (0 in the padding),
// k = ((ci*K0 + k0)*K1 + k1)*K2 + k2; columns past the panel's positions are zero.
static void pack_x(const float* __restrict__ xg, const Geometry& q, const Run* runs, int64_t nr, int64_t cols,
                   int64_t k_lo, int64_t k_hi, float* __restrict__ dst) {
  const int64_t taps = q.K0 * q.K1 * q.K2, plane = q.I0 * q.I1 * q.I2;
  int64_t ci = k_lo / taps, k0 = (k_lo % taps) / (q.K1 * q.K2), k1 = (k_lo / q.K2) % q.K1, k2 = k_lo % q.K2;
  for (int64_t k = k_lo; k < k_hi; ++k, ++k2) {  // (ci, k0, k1, k2) counted, not divided out, per row
    if (k2 == q.K2) { k2 = 0; ++k1; }
    if (k1 == q.K1) { k1 = 0; ++k0; }
    if (k0 == q.K0) { k0 = 0; ++ci; }
    const float* xc = xg + ci * plane;
    float* d = dst + (k - k_lo) * NR;
    for (int64_t c = cols; c < NR; ++c) d[c] = 0.0f;
    for (int64_t s = 0; s < nr; ++s) {
      const Run& u = runs[s];
      float* ds = d + u.c;
      const int64_t i0 = u.o0 * q.S0 + k0 * q.D0 - q.P0, i1 = u.o1 * q.S1 + k1 * q.D1 - q.P1;
      if (i0 < 0 || i0 >= q.I0 || i1 < 0 || i1 >= q.I1) {
        for (int64_t e = 0; e < u.len; ++e) ds[e] = 0.0f;
        continue;
      }
      const float* row = xc + (i0 * q.I1 + i1) * q.I2;
      const int64_t base = u.o2 * q.S2 + k2 * q.D2 - q.P2;  // input column of the run's first position
      // 0 <= base + e * S2 < I2 for e in [lo, hi)
      const int64_t lo = std::min<int64_t>(u.len, base >= 0 ? 0 : q.S2 == 1 ? -base : ceil_div(-base, q.S2));
      const int64_t end = base >= q.I2 ? 0 : q.S2 == 1 ? q.I2 - base : (q.I2 - 1 - base) / q.S2 + 1;
      const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(u.len, end));
      for (int64_t e = 0; e < lo; ++e) ds[e] = 0.0f;
      if (q.S2 == 1) {
        const float* src = row + base;
        #pragma omp simd
        for (int64_t e = lo; e < hi; ++e) ds[e] = src[e];
      } else {
        for (int64_t e = lo; e < hi; ++e) ds[e] = row[base + e * q.S2];
      }
      for (int64_t e = hi; e < u.len; ++e) ds[e] = 0.0f;
    }
  }
}

static thread_local std::vector<float> own_x;  // a thread's packed slice of X

extern "C" void akg_conv_gemm(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
                              float* __restrict__ out, int64_t N, int64_t G, int64_t CG, int64_t COG,
                              int64_t I0, int64_t I1, int64_t I2, int64_t O0, int64_t O1, int64_t O2,
                              int64_t K0, int64_t K1, int64_t K2, int64_t S0, int64_t S1, int64_t S2,
                              int64_t P0, int64_t P1, int64_t P2, int64_t D0, int64_t D1, int64_t D2, int64_t has_bias) {
  const Geometry q{I0, I1, I2, O1, O2, K0, K1, K2, S0, S1, S2, P0, P1, P2, D0, D1, D2};
  const int64_t K = CG * K0 * K1 * K2, P = O0 * O1 * O2, CO = G * COG;
  if (N <= 0 || CO <= 0 || P <= 0) return;
  const int64_t mp = ceil_div(COG, MR), np = ceil_div(P, NR);
  const int64_t a_size = ceil_div(mp * MR * K, 16) * 16;  // one group's packed weights
  thread_local std::vector<float> weights;  // reused across calls: no page faults per call
  if (weights.size() < (size_t)(G * a_size + 16)) weights.resize((size_t)(G * a_size + 16));
  float* ap = aligned(weights.data());
  const int64_t jobs = N * G * np;
  const int64_t step = ceil_div(K, ceil_div(K, KC));  // K in equal slices of at most KC (144 = 2 x 72, not 128 + 16)
  #pragma omp parallel @THREADS@ if (N * CO * P * std::max<int64_t>(K, 1) >= (1 << 20))
  {
    #pragma omp for schedule(static)
    for (int64_t t = 0; t < G * mp; ++t) pack_a(w + (t / mp) * COG * K, COG, K, t % mp, ap + (t / mp) * a_size + (t % mp) * MR * K, 0, K);
    alignas(64) float tmp[MR * NR];
    Run runs[NR];
    if ((int64_t)own_x.size() < KC * NR + 16) own_x.resize((size_t)(KC * NR + 16));
    float* bp = aligned(own_x.data());
    #pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < jobs; ++t) {
      const int64_t n = t / (G * np), g = (t / np) % G, j0 = (t % np) * NR, cols = std::min<int64_t>(NR, P - j0);
      const float* xg = x + (n * G + g) * CG * I0 * I1 * I2;
      float* og = out + (n * CO + g * COG) * P;
      const float* bg = bias + g * COG;
      const float* ag = ap + g * a_size;
      int64_t nr = 0;
      for (int64_t c = 0; c < cols;) {
        const int64_t j = j0 + c, o2 = j % O2, o01 = j / O2, len = std::min<int64_t>(O2 - o2, cols - c);
        runs[nr++] = Run{c, o01 / O1, o01 % O1, o2, len};
        c += len;
      }
      if (K == 0) {  // no input channel: the output is the bias
        for (int64_t r = 0; r < COG; ++r)
          for (int64_t e = 0; e < cols; ++e) og[r * P + j0 + e] = has_bias ? bg[r] : 0.0f;
        continue;
      }
      for (int64_t k0 = 0; k0 < K; k0 += step) {
        const int64_t kc = std::min<int64_t>(step, K - k0);
        pack_x(xg, q, runs, nr, cols, k0, k0 + kc, bp);
        for (int64_t ip = 0; ip < mp; ++ip) {
          const int64_t i0 = ip * MR, rows = std::min<int64_t>(MR, COG - i0);
          const float* pa = ag + ip * MR * K + k0 * MR;
          if (rows == MR && cols == NR) {  // a whole tile: accumulate in the output itself
            float* c = og + i0 * P + j0;
            if (k0 == 0 && has_bias) {
              for (int64_t r = 0; r < MR; ++r) {
                const float b = bg[i0 + r];
                #pragma omp simd
                for (int64_t e = 0; e < NR; ++e) c[r * P + e] = b;
              }
            }
            micro(kc, pa, bp, c, P, k0 > 0 || has_bias);
            continue;
          }
          micro(kc, pa, bp, tmp, NR, false);
          for (int64_t r = 0; r < rows; ++r) {
            float* c = og + (i0 + r) * P + j0;
            const float b = has_bias ? bg[i0 + r] : 0.0f;
            if (k0 == 0) {
              for (int64_t e = 0; e < cols; ++e) c[e] = b + tmp[r * NR + e];
            } else {
              for (int64_t e = 0; e < cols; ++e) c[e] += tmp[r * NR + e];
            }
          }
        }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class ConvGemmParams:
    mr: int = 6  # register tile rows: output channels
    nv: int = 4  # register tile columns, in vectors: output positions
    kc: int = 128  # most rows of a packed slice of im2col's matrix (128 x 64 floats: 32 KB, in L1)
    threads: int = 0


# In the order of a 1-thread sweep over cpu_small 16 and KernelBench 50, 54, 55, 62, 67, 80, 87
# (benchmarks/results/cpu_conv/README.md): 6x4 was best on 6 of 8, 4x4 on 1, 8x2 (the GEMM's
# second) on none; a tile that pads C_out / groups by more than a quarter goes after the others.
CONV_GEMM_VARIANTS = [ConvGemmParams(), ConvGemmParams(mr=4, nv=4), ConvGemmParams(mr=8, nv=2, kc=256)]
MIN_CHANNELS = 4  # output channels per group below which the loop nests serve the layer alone
SHARE = 2  # of `count` candidates, at most this many are implicit GEMMs: the loop nests keep the rest


def conv_gemm_cpp(params: ConvGemmParams) -> str:
    """The kernel's C++ source."""
    body = KERNEL.replace("@MICRO@", MICRO_KERNEL).replace("@PACK_A@", PACK_A_ROWS)
    for key, value in {"@MR@": str(params.mr), "@NV@": str(params.nv), "@KC@": str(params.kc), "@KUNROLL@": "1",
                       "@THREADS@": f"num_threads({params.threads})" if params.threads > 0 else ""}.items():
        body = body.replace(key, value)
    headers = "#include <algorithm>\n#include <cstdint>\n#include <vector>\n"
    return f"{headers}{VECTOR_PRELUDE}\n{body}"


PAD3_HELPER = '''

def _pad3(values, fill):
    """Spatial values as three: leading dims of size 1 (padding 0) make a 1-D / 2-D layer 3-D."""
    return (fill,) * (3 - len(values)) + tuple(values)
'''


def _forward(dims: int, dtype: str) -> str:
    widen = "" if dtype == "float32" else "\n        x, w, bias = x.float(), w.float(), bias.float()"
    narrow = "" if dtype == "float32" else f"\n        out = out.to(torch.{dtype})"
    return f"""        w = self.weight.contiguous()
        c_in = w.shape[1] * self.groups
        if x.dim() != {dims + 2} or x.shape[1] != c_in or x.dtype != torch.{dtype} or w.dtype != torch.{dtype}:
            raise ValueError(f"this kernel was generated for {dims}-D convolution of (N, {{c_in}}, {dims} spatial dims) {dtype} inputs, got {{tuple(x.shape)}} {{x.dtype}}")
        ins = tuple(x.shape[2:])
        outs = tuple((ins[i] + 2 * self.p[i] - self.d[i] * (self.k[i] - 1) - 1) // self.s[i] + 1 for i in range({dims}))
        if min(outs) <= 0:
            raise ValueError(f"input of spatial size {{ins}} is smaller than the dilated kernel {{self.k}} (padding {{self.p}})")
        bias = self.bias.contiguous() if self.bias is not None else w{widen}
        out = torch.empty((x.shape[0], w.shape[0], *outs), dtype=torch.float32)
        _lib.akg_conv_gemm(x, w, bias, out, x.shape[0], self.groups, w.shape[1], w.shape[0] // self.groups,
                           *_pad3(ins, 1), *_pad3(outs, 1), *_pad3(self.k, 1), *_pad3(self.s, 1), *_pad3(self.p, 0),
                           *_pad3(self.d, 1),
                           int(self.bias is not None)){narrow}"""


def conv_gemm_candidates(task: Task, layer: LayerTask, count: int, threads: int = 0) -> list[Candidate]:
    """Up to `count` implicit-GEMM candidates for a (not transposed) convolution layer; NotCovered
    with the reason when the layer is not one."""
    transposed, dims = _check(layer)
    conv: Any = layer.layer
    if transposed:
        raise NotCovered(f"{type(conv).__name__}: the implicit-GEMM convolution is for direct convolutions")
    cog = conv.out_channels // conv.groups
    if cog < MIN_CHANNELS:
        raise NotCovered(f"{type(conv).__name__} with {cog} output channel(s) per group (the implicit GEMM wants >= {MIN_CHANNELS})")
    variants = sorted(CONV_GEMM_VARIANTS, key=lambda v: 4 * (-(-cog // v.mr) * v.mr - cog) > cog)  # stable
    candidates = []
    for index, params in enumerate(variants[: max(count, 1)]):
        params = ConvGemmParams(**{**asdict(params), "threads": threads})
        kernel = f'KERNEL_SOURCE = r"""\n{conv_gemm_cpp(params)}"""\n\n_lib = load_cpp(KERNEL_SOURCE)' + TUPLE_HELPER + PAD3_HELPER
        code = layer_model_new(task, layer, "import math\n\nfrom akg_agents.dsl.cpp_loader import load_cpp", kernel, _init(dims, False),
                               _forward(dims, layer.dtype), f" (C++ {type(conv).__name__}, implicit-im2col GEMM, {params.mr}x{params.nv} vector register tile)")
        candidates.append(Candidate(
            id=f"builtin-conv-gemm-{index}", dsl="cpp", code=code, agent="builtin", step=index,
            params={"generator": "conv_gemm", **asdict(params)},
            note=f"C++ {type(conv).__name__} as implicit-im2col GEMM ({cog} x (positions) x {conv.in_channels // conv.groups * _taps(conv)} "
                 f"per group, {conv.groups} group(s)) on the packed GEMM's micro-kernel",
        ))
    return candidates


def _taps(conv: Any) -> int:
    taps = 1
    for k in conv.weight.shape[2:]:
        taps *= int(k)
    return taps


def race_with_conv_gemm(task: Task, layer: LayerTask, count: int, threads: int,
                        poly: Callable[[Task, int, int], list[Candidate]]) -> list[Candidate] | None:
    """Up to SHARE implicit GEMMs, then the loop nests for the rest of `count` (a search walking
    chosen loop-nest points, poly_cpp.ONLY, gets those alone); None when the implicit GEMM declines
    the layer (the cpp / PolyTOPS path decides, as before)."""
    from akg_agents.builtin.poly_cpp import ONLY

    if ONLY.get() is not None:
        return None
    try:
        gemms = conv_gemm_candidates(task, layer, min(SHARE, max(count, 1)), threads)
    except NotCovered:
        return None
    return fill_with_nests(task, gemms, max(count, 1), threads, poly)
