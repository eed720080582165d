"""C++ transposed convolution (nn.ConvTranspose1d/2d/3d, any stride, padding, dilation, groups,
output_padding, bias) in its gather form, for the strided ones PolyTOPS cannot schedule.

PolyTOPS lowers a transposed convolution as the scatter PyTorch does; with a stride whose taps
span more than one stride step (KernelBench 72, 75) isl's Farkas step refuses the dependences and
the task was declined. Here every output gathers instead, as the Triton kernels do
(conv_kernels.py): out[n, co, o] = bias + sum over (ci, k) with o + P - k * D = i * S, 0 <= i < I,
of x[n, ci, i] * w[ci, co, k]. Per (tap, input channel) the outputs of one row that receive it
are one arithmetic progression, o = o0 + S * j with i = i0 + j, so the inner loop has no test.
Spatial dims are padded to three (size 1) so one source serves 1-D, 2-D and 3-D layers. fp16 /
bf16 tasks run on a float32 copy and the result is narrowed (accumulation in fp32).
"""

from __future__ import annotations

from typing import Any

from akg_agents.builtin.conv_triton import _init
from akg_agents.builtin.layer_task import CONVS, TUPLE_HELPER, LayerTask, layer_model_new
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Candidate, Task

KERNEL = r"""
#include <cstdint>
#include <algorithm>

static inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

extern "C" void akg_conv_transpose(const float* x, const float* w, const float* bias, float* out,
                                   int64_t N, int64_t G, int64_t CG, int64_t COG,
                                   int64_t I0, int64_t I1, int64_t I2, int64_t O0, int64_t O1, int64_t O2,
                                   int64_t K0, int64_t K1, int64_t K2, int64_t S0, int64_t S1, int64_t S2,
                                   int64_t P0, int64_t P1, int64_t P2, int64_t D0, int64_t D1, int64_t D2,
                                   int64_t has_bias) {
    const int64_t CO = G * COG, CI = G * CG, ivol = I0 * I1 * I2, ovol = O0 * O1 * O2, kvol = K0 * K1 * K2;
    #pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t c = 0; c < CO; ++c) {
            const int64_t g = c / COG, co = c % COG;
            float* plane = out + (n * CO + c) * ovol;
            const float b = has_bias ? bias[c] : 0.0f;
            for (int64_t o = 0; o < ovol; ++o) plane[o] = b;
            for (int64_t ci = 0; ci < CG; ++ci) {
                const float* xc = x + (n * CI + g * CG + ci) * ivol;
                const float* wc = w + ((g * CG + ci) * COG + co) * kvol;
                for (int64_t o0 = 0; o0 < O0; ++o0) for (int64_t k0 = 0; k0 < K0; ++k0) {
                    const int64_t t0 = o0 + P0 - k0 * D0;
                    if (t0 < 0 || t0 % S0 != 0 || t0 / S0 >= I0) continue;
                    for (int64_t o1 = 0; o1 < O1; ++o1) for (int64_t k1 = 0; k1 < K1; ++k1) {
                        const int64_t t1 = o1 + P1 - k1 * D1;
                        if (t1 < 0 || t1 % S1 != 0 || t1 / S1 >= I1) continue;
                        const float* xrow = xc + ((t0 / S0) * I1 + t1 / S1) * I2;
                        float* orow = plane + (o0 * O1 + o1) * O2;
                        for (int64_t k2 = 0; k2 < K2; ++k2) {
                            const float wv = wc[(k0 * K1 + k1) * K2 + k2];
                            // outputs o = P-free start o_first + S2 * j read input i = i_first + j
                            const int64_t shift = k2 * D2 - P2;              // o = i * S2 + shift
                            const int64_t i_lo = std::max<int64_t>(0, -floor_div(shift, S2));
                            const int64_t i_hi = std::min<int64_t>(I2, floor_div(O2 - 1 - shift, S2) + 1);
                            #pragma omp simd
                            for (int64_t i = i_lo; i < i_hi; ++i) orow[i * S2 + shift] += wv * xrow[i];
                        }
                    }
                }
            }
        }
    }
}
"""


def _forward(dims: int, dtype: str) -> str:
    pad = 3 - dims  # leading size-1 spatial dims
    ones = "(1,) * " + str(pad) + " + " if pad else ""  # sizes, taps, strides, dilations of the padding dims
    zeros = "(0,) * " + str(pad) + " + " if pad else ""  # their padding
    widen = "" if dtype == "float32" else """
        x, w, narrow = x.float(), w.float(), out
        bias = bias.float()
        out = torch.empty(narrow.shape, dtype=torch.float32)"""
    narrow = "" if dtype == "float32" else "\n        out = narrow.copy_(out)"
    return f"""        w = self.weight.contiguous()
        if x.dim() != {dims + 2} or x.shape[1] != w.shape[0] or x.dtype != torch.{dtype} or w.dtype != torch.{dtype}:
            raise ValueError(f"this kernel was generated for {dims}-D transposed convolution of (N, {{w.shape[0]}}, {dims} spatial dims) {dtype} inputs, got {{tuple(x.shape)}} {{x.dtype}}")
        ins = tuple(x.shape[2:])
        outs = tuple((ins[i] - 1) * self.s[i] - 2 * self.p[i] + self.d[i] * (self.k[i] - 1) + self.op[i] + 1 for i in range({dims}))
        c_g = w.shape[0] // self.groups
        co_g = w.shape[1]
        out = torch.empty((x.shape[0], co_g * self.groups, *outs), dtype=x.dtype)
        bias = self.bias.contiguous() if self.bias is not None else w{widen}
        _lib.akg_conv_transpose(x, w, bias, out, x.shape[0], self.groups, c_g, co_g, *({ones}ins), *({ones}outs),
                                *({ones}self.k), *({ones}self.s), *({zeros}self.p), *({ones}self.d),
                                int(self.bias is not None)){narrow}"""


def strided_transposed(layer: LayerTask) -> bool:
    conv: Any = layer.layer
    strides = conv.stride if isinstance(conv.stride, tuple) else (conv.stride,)
    return CONVS[type(conv)][0] and any(int(v) > 1 for v in strides)


def cpp_conv_transpose_candidates(task: Task, layer: LayerTask, threads: int = 0) -> list[Candidate]:
    """One candidate; `threads` > 0 fixes its OpenMP thread count (0: the runtime's default)."""
    conv: Any = layer.layer
    transposed, dims = CONVS[type(conv)]
    if not transposed:
        raise NotCovered(f"{type(conv).__name__}: the direct C++ kernel is for transposed convolutions")
    if getattr(conv, "padding_mode", "zeros") != "zeros":
        raise NotCovered(f"{type(conv).__name__} with padding_mode={conv.padding_mode!r} (only zero padding is covered)")
    source = KERNEL.replace("schedule(static)", f"schedule(static) num_threads({threads})") if threads > 0 else KERNEL
    kernel = f'KERNEL_SOURCE = r"""{source}"""\n\n_lib = load_cpp(KERNEL_SOURCE)' + TUPLE_HELPER
    code = layer_model_new(task, layer, "import math\n\nfrom akg_agents.dsl.cpp_loader import load_cpp", kernel, _init(dims, True),
                           _forward(dims, layer.dtype), f" (C++ {type(conv).__name__}, gather form)")
    return [Candidate(id="builtin-cpp-convt-0", dsl="cpp", code=code, agent="builtin", step=0, params={"kind": "gather", "threads": threads},
                      note=f"C++/OpenMP {type(conv).__name__} in gather form (one output plane per (n, channel))")]
