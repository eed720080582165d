"""Built-in Triton convolutions: nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d with any stride,
padding, dilation, groups (depthwise included), output_padding and bias (conv_kernels.py).

The configuration and the weight / bias are read from the embedded Model's layer when ModelNew
is built, the output size from the input's shape in forward, so a candidate is right for any
constructor arguments and any input of the layer's rank. Declined with the reason: string
padding other than 'valid' ('same' pads asymmetrically when the total is odd), padding modes
other than zeros (reflect / replicate / circular are not gathered).
"""

from __future__ import annotations

from typing import Any

from akg_agents.builtin.conv_kernels import conv_direct, conv_gemm
from akg_agents.builtin.conv_taps import conv_gemm_taps
from akg_agents.builtin.layer_task import CONVS, TUPLE_HELPER, LayerTask, layer_model_new
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Candidate, Task

TL_DTYPE = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16"}
IMPORTS = "import math\n\nimport triton\nimport triton.language as tl"


def _check(layer: LayerTask) -> tuple[bool, int]:
    transposed, dims = CONVS[type(layer.layer)]
    conv = layer.layer
    name = type(conv).__name__
    padding = getattr(conv, "padding", 0)
    if isinstance(padding, str) and padding != "valid":
        raise NotCovered(f"{name} with padding={padding!r} (only explicit padding and 'valid' are covered)")
    if getattr(conv, "padding_mode", "zeros") != "zeros":
        raise NotCovered(f"{name} with padding_mode={conv.padding_mode!r} (only zero padding is covered)")
    return transposed, dims


def _init(dims: int, transposed: bool) -> str:
    return f"""        if isinstance(layer.padding, str) and layer.padding != "valid" or layer.padding_mode != "zeros":
            raise ValueError("this kernel was generated for zero padding given as numbers or 'valid'")
        self.weight = layer.weight
        self.bias = layer.bias
        self.groups = int(layer.groups)
        self.k = tuple(int(v) for v in layer.weight.shape[2:])
        self.s = _tup(layer.stride, {dims})
        self.p = _tup(0 if layer.padding == "valid" else layer.padding, {dims})
        self.d = _tup(layer.dilation, {dims})
        self.op = _tup(getattr(layer, "output_padding", 0), {dims})
        self.step = tuple(s // math.gcd(s, d) for s, d in zip(self.s, self.d))  # taps' step within an output phase
        self.transposed = {transposed}"""


def _sizes(dims: int, transposed: bool, dtype: str) -> str:
    if transposed:
        out_size = "(ins[i] - 1) * self.s[i] - 2 * self.p[i] + self.d[i] * (self.k[i] - 1) + self.op[i] + 1"
        channels = "self.weight.shape[1] * self.groups"
        c_in = "self.weight.shape[0]"
    else:
        out_size = "(ins[i] + 2 * self.p[i] - self.d[i] * (self.k[i] - 1) - 1) // self.s[i] + 1"
        channels = "self.weight.shape[0]"
        c_in = "self.weight.shape[1] * self.groups"
    return f"""        w = self.weight.contiguous()
        if x.dim() != {dims + 2} or x.shape[1] != {c_in} or x.dtype != w.dtype or x.dtype != torch.{dtype}:
            raise ValueError(f"this kernel was generated for {dims}-D convolution of (N, {{{c_in}}}, {dims} spatial dims) {dtype} inputs, got {{tuple(x.shape)}} {{x.dtype}}")
        ins = tuple(x.shape[2:])
        outs = tuple({out_size} for i in range({dims}))
        co = {channels}
        c_g = x.shape[1] // self.groups
        co_g = co // self.groups
        out = torch.empty((x.shape[0], co, *outs), dtype=x.dtype, device=x.device)
        bias = self.bias.contiguous() if self.bias is not None else w"""


def _consts(dims: int) -> str:
    return ", ".join(f"{n}_{'abc'[i]}=self.{n.lower()}[{i}]" for n in ("K", "S", "P", "D") for i in range(dims))


def _gemm_body(dims: int, block: tuple[int, int, int, int, int]) -> str:
    bm, bn, bk, warps, stages = block
    return f"""
        M = x.shape[0] * {" * ".join(f"outs[{i}]" for i in range(dims))}
        grid = (triton.cdiv(M, {bm}), triton.cdiv(co_g, {bn}), self.groups)
        akg_conv[grid](x, w, bias, out, c_g, co_g, *ins, *outs, {_consts(dims)}, M=M,
                       HAS_BIAS=self.bias is not None, BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_K={bk},
                       num_warps={warps}, num_stages={stages})"""


def _taps_body(dims: int, transposed: bool, block: tuple[int, int, int, int, int]) -> str:
    bm, bn, bk, warps, stages = block
    if transposed:  # w: (in channels, out channels per group, *taps); rows: one output phase's positions
        permuted = "w.reshape(self.groups, c_g, co_g, -1).permute(0, 3, 1, 2)"
        rows = " * ".join(f"triton.cdiv(outs[{i}], self.s[{i}])" for i in range(dims))
        phases = " * ".join(f"self.s[{i}]" for i in range(dims))
    else:  # w: (out channels, in channels per group, *taps)
        permuted, rows, phases = "w.reshape(self.groups, co_g, c_g, -1).permute(0, 3, 2, 1)", " * ".join(
            f"outs[{i}]" for i in range(dims)), "1"
    steps = ", ".join(f"STEP_{'abc'[i]}=self.step[{i}]" for i in range(dims))
    return f"""
        wt = {permuted}.contiguous()  # (groups, taps, in channels per group, out channels per group)
        M = x.shape[0] * {rows}
        grid = (triton.cdiv(M, {bm}), triton.cdiv(co_g, {bn}), self.groups * {phases})
        akg_conv_taps[grid](x, wt, bias, out, c_g, co_g, self.groups, *ins, *outs, {_consts(dims)}, {steps},
                            M=M, HAS_BIAS=self.bias is not None, BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_K={bk},
                            num_warps={warps}, num_stages={stages})"""


def _direct_body(dims: int, block: int, warps: int) -> str:
    return f"""
        positions = {" * ".join(f"outs[{i}]" for i in range(dims))}
        akg_conv_direct[(triton.cdiv(positions, {block}), x.shape[0] * co)](x, w, bias, out, c_g, co_g, *ins, *outs,
                        {_consts(dims)}, CO=co, HAS_BIAS=self.bias is not None, BLOCK={block}, num_warps={warps})"""


def _block_n(out_per_group: int) -> int:
    """Output channels per tile: 64, or the next power of two (at least 16, tl.dot's least) where a
    group has fewer, so that a tile is not mostly padding (16 out channels in a 64-wide tile)."""
    return 64 if out_per_group >= 64 else max(16, 1 << (out_per_group - 1).bit_length())


def _variants(layer: LayerTask) -> list[dict]:
    """Implicit GEMM tiles (fp32: 3xTF32 then exact products), and the direct kernel: the direct
    kernel first when a group has fewer than 16 output channels (depthwise), unless the taps
    form applies. The taps-outside
    GEMM (conv_taps.py) comes first where it does less work: a group has at least 16 input
    channels, or a strided transposed convolution (its phases skip the taps a stride leaves out).

    fp32 tiles are the ones checked on an H200 (Triton 3.6) over 16 KernelBench convolutions
    (benchmarks/results/kernelbench_h200/conv_tile_sweep.txt) and timed over all 35
    (benchmarks/results/kernelbench_h200/session6/conv_sweep/: the taps form at 128 x 64 was the
    fastest on 24 of the 25 where it was offered). Not offered for the flat form: 64x64x32 with 4
    warps and 3 stages (and 64x128x32/4/3, 128x128x32/8/3) with TF32 operands: Triton miscompiles
    it on problems 55 and 57 (error 0.07 where TF32 rounding gives 3e-4, on both "tf32" and
    "tf32x3", in every output tile, while the same kernel with "ieee" products is exact and the
    CPU interpreter agrees): a compiler fault, not the kernel's indexing nor 3xTF32's precision;
    nor 64x64x32/4/2, wrong the same way on problem 59 (error 1.2 x RMS)."""
    conv: Any = layer.layer
    out_per_group = int(conv.out_channels) // int(conv.groups)  # nn.ConvTransposeNd keeps out_channels too
    in_per_group = int(conv.in_channels) // int(conv.groups)
    transposed, _ = CONVS[type(conv)]
    strides = conv.stride if isinstance(conv.stride, tuple) else (conv.stride,)
    use_taps = in_per_group >= 16 or (transposed and any(int(v) > 1 for v in strides))
    bn = _block_n(out_per_group)
    bk = min((32, 16), key=lambda b: (-(-in_per_group // b) * b, -b))  # least channel padding; 32 on ties
    gemm: list[dict[str, Any]]
    taps: list[dict[str, Any]]
    if layer.dtype == "float32":
        gemm = [dict(kind="gemm", tile=(128, bn, 32, 4, 3), precision="tf32x3"),
                dict(kind="gemm", tile=(128, bn, 16, 4, 3), precision="tf32x3"),
                dict(kind="gemm", tile=(128, bn, 32, 4, 3), precision="ieee")]
        taps = [dict(kind="taps", tile=(128, bn, bk, 4, 3), precision="tf32x3"),
                dict(kind="taps", tile=(64, bn, bk, 4, 2), precision="tf32x3")]
    else:
        gemm = [dict(kind="gemm", tile=(128, bn, 32, 4, 3), precision="ieee"),
                dict(kind="gemm", tile=(128, 2 * bn if bn == 64 else bn, 32, 8, 3), precision="ieee"),
                dict(kind="gemm", tile=(64, bn, 32, 4, 3), precision="ieee")]
        taps = [dict(kind="taps", tile=(128, bn, bk, 4, 3), precision="ieee"),
                dict(kind="taps", tile=(128, 2 * bn if bn == 64 else bn, bk, 8, 3), precision="ieee")]
    if use_taps:  # taps first, then the flat form (the race keeps whichever is faster)
        gemm = [taps[0], gemm[0], taps[1], *gemm[1:]]
    direct = [dict(kind="direct", block=256, warps=4), dict(kind="direct", block=1024, warps=4)]
    if out_per_group < 16 and not use_taps:  # depthwise-like: a GEMM tile would be mostly empty
        return [*direct, *gemm]
    # A strided transposed conv with few channels per group (72: 8) still gains more from its
    # phases than a 16-wide tile wastes: on the H200 the taps form ran 0.61x eager there, the
    # direct kernel 0.28x (conv_sweep, 64-wide tile then).
    return [*gemm, *direct]


def triton_conv_candidates(task: Task, layer: LayerTask, count: int) -> list[Candidate]:
    transposed, dims = _check(layer)
    name = type(layer.layer).__name__
    candidates = []
    for index, params in enumerate(_variants(layer)[: max(count, 1)]):
        tl_dtype = TL_DTYPE[layer.dtype]
        if params["kind"] == "taps":
            kernel = conv_gemm_taps(dims, transposed, tl_dtype, str(params["precision"]))
            body = _taps_body(dims, transposed, params["tile"])
            what = f"implicit GEMM, taps outside, {params['tile'][:3]} {params['precision']}"
        elif params["kind"] == "gemm":
            kernel = conv_gemm(dims, transposed, tl_dtype, str(params["precision"]))
            body = _gemm_body(dims, params["tile"])
            what = f"implicit-GEMM {params['tile'][:3]} {params['precision']}"
        else:
            kernel = conv_direct(dims, transposed, tl_dtype)
            body = _direct_body(dims, int(params["block"]), int(params["warps"]))
            what = f"direct, {params['block']} positions per program"
        code = layer_model_new(task, layer, IMPORTS, kernel + TUPLE_HELPER, _init(dims, transposed),
                               _sizes(dims, transposed, layer.dtype) + body, f" (Triton {name})")
        candidates.append(Candidate(id=f"builtin-triton-conv-{index}", dsl="triton_cuda", code=code, agent="builtin",
                                    step=index, params={k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
                                    note=f"Triton {name}: {what}"))
    return candidates
