"""A fused Triton kernel for a depthwise 2-D convolution followed by a pointwise (1x1) one
(KernelBench 86, depthwise-separable convolution): an implicit GEMM over (output positions) x
(output channels) whose A tile, (positions) x (a chunk of channels), is the depthwise
convolution itself, computed in registers from the input (the taps unrolled, fp32 FMAs) and
never written: the intermediate tensor (as large as the input) makes no trip to memory. The
pointwise weight is the B tile and tl.dot accumulates in fp32 (3xTF32 or exact products in
fp32). The depthwise result is rounded to the input's dtype before the product, as the unfused
chain stores it.

Configuration, weights and biases come from the embedded Model's two layers when ModelNew is
built, which refuses (one line) layers that are not depthwise (groups = in = out channels) and
pointwise (1x1, stride 1, no padding, groups 1); output sizes come from the input's shape, so a
candidate is right for any input of rank 4.
"""

from __future__ import annotations

from typing import Any

from akg_agents.builtin.conv_chain import chain_model_new_header
from akg_agents.builtin.layer_task import LayerTask
from akg_agents.records import Candidate, Task

TL_DTYPE = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16"}

KERNEL = '''
@triton.jit
def akg_dw_pw(x, wd, bd, wp, bp, out, C, CO, H, W, OH, OW, M,
              KH: tl.constexpr, KW: tl.constexpr, SH: tl.constexpr, SW: tl.constexpr, PH: tl.constexpr,
              PW: tl.constexpr, DH: tl.constexpr, DW: tl.constexpr, HAS_BD: tl.constexpr, HAS_BP: tl.constexpr,
              PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    rm = tl.program_id(0).to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok = rm < M
    n_ok = rn < CO
    ow = rm % OW
    oh = (rm // OW) % OH
    img = rm // (OW * OH)
    x_img = x + img * C * H * W
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for c0 in range(0, C, BLOCK_K):
        rc = c0 + tl.arange(0, BLOCK_K)
        c_ok = rc < C
        x_chan = x_img[:, None] + rc[None, :].to(tl.int64) * H * W
        a = tl.zeros((BLOCK_M, BLOCK_K), dtype=tl.float32)
        for kh in tl.static_range(KH):
            ih = oh * SH - PH + kh * DH
            h_ok = m_ok & (ih >= 0) & (ih < H)
            for kw in tl.static_range(KW):
                iw = ow * SW - PW + kw * DW
                ok = h_ok & (iw >= 0) & (iw < W)
                xv = tl.load(x_chan + (ih * W + iw)[:, None], mask=ok[:, None] & c_ok[None, :], other=0.0)
                wv = tl.load(wd + rc * (KH * KW) + (kh * KW + kw), mask=c_ok, other=0.0)
                a += xv.to(tl.float32) * wv.to(tl.float32)[None, :]
        if HAS_BD:
            a += tl.load(bd + rc, mask=c_ok, other=0.0).to(tl.float32)[None, :]
        b = tl.load(wp + rn[None, :] * C + rc[:, None], mask=c_ok[:, None] & n_ok[None, :], other=0.0)
        acc = tl.dot(a.to(b.dtype), b, acc, input_precision=PRECISION)
    if HAS_BP:
        acc += tl.load(bp + rn, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    offs = (img * CO)[:, None] * (OH * OW) + rn[None, :].to(tl.int64) * (OH * OW) + (oh * OW + ow)[:, None]
    tl.store(out + offs, acc.to(out.dtype.element_ty), mask=m_ok[:, None] & n_ok[None, :])
'''

INIT = '''        dw, pw = reference.get_submodule({dw!r}), reference.get_submodule({pw!r})
        if (dw.weight.dim() != 4 or dw.groups != dw.in_channels or dw.out_channels != dw.in_channels
                or pw.kernel_size != (1, 1) or _tup(pw.stride, 2) != (1, 1) or _tup(pw.dilation, 2) != (1, 1)
                or pw.padding not in ((0, 0), 0, "valid") or pw.groups != 1
                or isinstance(dw.padding, str) and dw.padding != "valid" or "zeros" != dw.padding_mode):
            raise ValueError("this kernel was generated for a depthwise Conv2d (groups = in = out channels, zero "
                             "padding) followed by a 1x1 Conv2d with stride 1, no padding and groups 1")
        self.wd, self.bd, self.wp, self.bp = dw.weight, dw.bias, pw.weight, pw.bias
        self.k = tuple(int(v) for v in dw.weight.shape[2:])
        self.s = _tup(dw.stride, 2)
        self.p = _tup(0 if dw.padding == "valid" else dw.padding, 2)
        self.d = _tup(dw.dilation, 2)'''

FORWARD = '''        x = x.contiguous()
        if x.dim() != 4 or x.shape[1] != self.wd.shape[0] or x.dtype != self.wd.dtype or x.dtype != torch.{dtype}:
            raise ValueError(f"this kernel was generated for a depthwise-separable 2-D convolution of (N, {{self.wd.shape[0]}}, H, W) {dtype} inputs, got {{tuple(x.shape)}} {{x.dtype}}")
        oh, ow = ((x.shape[2 + i] + 2 * self.p[i] - self.d[i] * (self.k[i] - 1) - 1) // self.s[i] + 1 for i in range(2))
        co = self.wp.shape[0]
        out = torch.empty((x.shape[0], co, oh, ow), dtype=x.dtype, device=x.device)
        wd, wp = self.wd.contiguous(), self.wp.contiguous()
        bd = self.bd.contiguous() if self.bd is not None else wd
        bp = self.bp.contiguous() if self.bp is not None else wp
        M = x.shape[0] * oh * ow
        if M and co:
            akg_dw_pw[(triton.cdiv(M, {bm}), triton.cdiv(co, {bn}))](
                x, wd, bd, wp, bp, out, x.shape[1], co, x.shape[2], x.shape[3], oh, ow, M,
                KH=self.k[0], KW=self.k[1], SH=self.s[0], SW=self.s[1], PH=self.p[0], PW=self.p[1], DH=self.d[0],
                DW=self.d[1], HAS_BD=self.bd is not None, HAS_BP=self.bp is not None, PRECISION={precision!r},
                BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_K={bk}, num_warps={warps}, num_stages={stages})'''


def is_depthwise_pointwise(chain: list[LayerTask]) -> bool:
    """The traced chain is a depthwise Conv2d (groups = in = out channels) then a pointwise one."""
    from torch import nn

    if len(chain) != 2 or not all(type(layer.layer) is nn.Conv2d for layer in chain):
        return False
    dw: Any = chain[0].layer
    pw: Any = chain[1].layer
    return (dw.groups == dw.in_channels == dw.out_channels and dw.padding_mode == "zeros"
            and (not isinstance(dw.padding, str) or dw.padding == "valid")
            and tuple(pw.kernel_size) == (1, 1) and tuple(pw.stride) == (1, 1) and tuple(pw.dilation) == (1, 1)
            and pw.padding in ((0, 0), "valid") and pw.groups == 1)


def fused_variants(chain: list[LayerTask]) -> list[dict[str, Any]]:
    co = int(chain[1].layer.out_channels)  # type: ignore[arg-type]
    bn = min(128, max(16, 1 << (co - 1).bit_length()))
    precisions = ["tf32x3", "ieee"] if chain[0].dtype == "float32" else ["tf32"]
    return [dict(kind="fused", tile=[64, bn, 32, 4, 2], precision=p) for p in precisions]


def fused_candidates(task: Task, chain: list[LayerTask], first_index: int, count: int) -> list[Candidate]:
    """Candidates (ids from `first_index`) running the fused depthwise + pointwise kernel."""
    candidates = []
    for offset, params in enumerate(fused_variants(chain)[: max(count, 0)]):
        bm, bn, bk, warps, stages = params["tile"]
        forward = FORWARD.format(dtype=chain[0].dtype, bm=bm, bn=bn, bk=bk, warps=warps, stages=stages,
                                 precision=params["precision"])
        code = chain_model_new_header(task, ["import math", "import triton", "import triton.language as tl"],
                                      KERNEL + TUPLE, INIT.format(dw=chain[0].name, pw=chain[1].name), forward,
                                      " (Triton depthwise + pointwise Conv2d, fused)")
        index = first_index + offset
        candidates.append(Candidate(id=f"builtin-chain-{index}", dsl="triton_cuda", code=code, agent="builtin", step=index,
                                    params=params, note=f"Triton depthwise + pointwise fused: tile {params['tile'][:3]}, "
                                    f"{params['precision']} products; the intermediate stays in registers"))
    return candidates


TUPLE = '''

def _tup(value, dims):
    """A layer's int-or-tuple argument as a tuple of `dims` ints."""
    return tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * dims
'''
