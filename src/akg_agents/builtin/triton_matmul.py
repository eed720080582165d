"""MatmulProgram -> Triton (triton_cuda): a tiled matrix product with the epilogue fused.

Mapping onto the GPU:
- one program per BLOCK_M x BLOCK_N tile of the output; programs are numbered in GROUP_M-tall
  column-major groups so that the A row-panels and B column-panels concurrently in flight are
  shared through L2 (the classic grouped ordering);
- the K loop loads BLOCK_M x BLOCK_K and BLOCK_K x BLOCK_N tiles (masked at the edges) and
  calls tl.dot with an fp32 accumulator: tensor cores (wgmma on Hopper) for fp16/bf16; for fp32
  `input_precision` is "ieee" (exact fp32 products, matches PyTorch to 1e-4) or "tf32x3" (three
  TF32 products per element: tensor cores at close to fp32 accuracy); num_stages pipelines the
  loop with asynchronous copies;
- the epilogue (bias, activation, scale, residual ...) runs on the fp32 accumulator in registers
  and the tile is stored once, in the output dtype: the (M, N) result never makes a round trip
  through memory between the product and its pointwise chain.

Operands are passed by strides (transposes are views), batched products take a grid axis, and
split-K, triu / tril and the matrix-vector kernel are described in matmul_kernels.py.

Tunable parameters (exposed for search): block_m, block_n, block_k, group_m, num_warps,
num_stages, precision (fp32 only), kind (tiled | gemv), split_k, pad.
"""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass, replace

import torch

from akg_agents.builtin.generator import launch_args
from akg_agents.builtin.generator import model_new_source as shared_model_new
from akg_agents.builtin.lower_matmul import lower_matmul_model
from akg_agents.builtin.matmul_ir import MatmulProgram
from akg_agents.builtin.matmul_kernels import gemv_kernel, reduce_kernel, tiled_kernel
from akg_agents.builtin.precision import traced_inputs, traced_model
from akg_agents.records import Candidate, Task

TORCH_DTYPE = {"float32": "torch.float32", "float16": "torch.float16", "bfloat16": "torch.bfloat16"}


@dataclass(frozen=True)
class MatmulParams:
    block_m: int = 128
    block_n: int = 128
    block_k: int = 32
    group_m: int = 8
    num_warps: int = 8
    num_stages: int = 3
    precision: str = "ieee"  # fp32 inputs only: ieee | tf32x3
    kind: str = "tiled"  # tiled | gemv (block_m: rows per program, block_k: K chunk)
    split_k: bool = True  # split K when the output has fewer tiles than the GPU has SMs
    pad: bool = False  # copy irregular big operands into K-tile-aligned zero-padded buffers


PAD_MIN_OUTPUT = 1 << 22  # pad irregular operands only when the product is big enough to repay the copy
SMS = 132  # streaming multiprocessors of an H100 / H200: the split-K target fills about 2 waves


def trace_matmul(task: Task) -> MatmulProgram | None:
    """The task as a MatmulProgram, None when its first op is no matrix product (NotCovered when
    it is one but what follows is out of scope)."""
    module = types.ModuleType("akg_builtin_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), module.__dict__)
    torch.manual_seed(0)
    model = traced_model(module.Model(*module.get_init_inputs()).eval())
    return lower_matmul_model(model, traced_inputs(list(module.get_inputs())))


def generate_matmul(program: MatmulProgram, params: MatmulParams) -> str:
    """The module-level kernel code of a candidate: the GEMV kernel, or the tiled kernel and its
    split-K reduction."""
    if params.kind == "gemv":
        return gemv_kernel(program)
    return tiled_kernel(program, params.precision) + "\n\n" + reduce_kernel(program)


TRITON_IMPORTS = """import triton
import triton.language as tl
from triton.language.extra import libdevice"""

PAD_HELPER = '''

def _zero_padded(t, rows, cols):
    """t (..., R, C) copied into zeros (..., rows, cols): aligned row strides and a K that is a
    multiple of the K tile, so the kernel's loads need no K mask."""
    buf = torch.zeros((*t.shape[:-2], rows, cols), dtype=t.dtype, device=t.device)
    buf[..., : t.shape[-2], : t.shape[-1]].copy_(t)
    return buf
'''


def _operand_lines(program: MatmulProgram, a: str, b: str) -> str:
    """forward's lines: the operands as (batch,) M x K and K x N strided views, M, N, K, the
    output, and the guards naming what the kernel was generated for."""
    a_view = f"{a}.transpose(-1, -2)" if program.a_transposed else a
    b_view = f"{b}.transpose(-1, -2)" if program.b_transposed else b
    if not program.batched and not program.a_transposed:
        a_view = f"{a_view}.reshape(-1, {a}.shape[-1])"  # leading dims folded into M (a view)
        out_shape = f"(*{a}.shape[:-1], N)"
    else:
        out_shape = "(*a_mat.shape[:-1], N)"
    rank = 3 if program.batched else 2
    dtype = TORCH_DTYPE[program.dtype]
    return f"""        if {a}.dtype != {dtype} or {b}.dtype != {dtype}:
            raise ValueError(f"this kernel was generated for {program.dtype} operands, got {{{a}.dtype}} and {{{b}.dtype}}")
        a_mat = {a_view}
        b_mat = {b_view}
        if a_mat.dim() != {rank} or b_mat.dim() != {rank} or a_mat.shape[-1] != b_mat.shape[-2] or a_mat.shape[:-2] != b_mat.shape[:-2]:
            raise ValueError(f"this kernel was generated for {"batched " if program.batched else ""}products of {rank}-D operands, got {{tuple(a_mat.shape)}} x {{tuple(b_mat.shape)}}")
        M, K = a_mat.shape[-2], a_mat.shape[-1]
        N = b_mat.shape[-1]
        batch = a_mat.shape[0] if a_mat.dim() == 3 else 1
        out = torch.empty({out_shape}, dtype={dtype}, device={a}.device)"""


def _kernel_inputs(program: MatmulProgram, args: list[str]) -> str:
    """The kernel's input arguments: the operands as the (possibly padded) a_mat / b_mat."""
    names = list(args[:-1])
    names[program.a], names[program.b] = "a_mat", "b_mat"
    return ", ".join(names)


def _tiled_launch(program: MatmulProgram, args: list[str], p: MatmulParams) -> str:
    inputs = _kernel_inputs(program, args)
    pad = ""
    if p.pad:
        pad = f"""
        if K % {p.block_k} != 0 and M * N >= {PAD_MIN_OUTPUT}:  # irregular and big: pad once, aligned loads after
            K = triton.cdiv(K, {p.block_k}) * {p.block_k}
            a_mat = _zero_padded(a_mat, M, K)
            b_mat = _zero_padded(b_mat, K, triton.cdiv(N, 16) * 16)"""
    split = "1"
    if p.split_k:  # too few tiles to fill the GPU and a long K: split K across programs
        split = f"max(1, min(triton.cdiv(2 * {SMS}, tiles), K // (8 * {p.block_k}))) if tiles < {SMS} else 1"
    return f"""{pad}
        tiles = triton.cdiv(M, {p.block_m}) * triton.cdiv(N, {p.block_n})
        splits = {split.replace("tiles", "(tiles * batch)")}
        k_per = triton.cdiv(triton.cdiv(K, splits), {p.block_k}) * {p.block_k}
        splits = triton.cdiv(K, k_per) if K > 0 else 1
        sb = (a_mat.stride(0) if a_mat.dim() == 3 else 0, b_mat.stride(0) if b_mat.dim() == 3 else 0)
        part = torch.empty((splits, batch * M * N), dtype=torch.float32, device=out.device) if splits > 1 else out
        akg_kernel[(tiles, batch, splits)]({inputs}, out, part, M, N, K, max(k_per, 1), sb[0], a_mat.stride(-2), a_mat.stride(-1),
                   sb[1], b_mat.stride(-2), b_mat.stride(-1), {program.diagonal}, BLOCK_M={p.block_m}, BLOCK_N={p.block_n},
                   BLOCK_K={p.block_k}, GROUP_M={p.group_m}, EVEN_K=K % {p.block_k} == 0, SPLIT=splits > 1,
                   num_warps={p.num_warps}, num_stages={p.num_stages})
        if splits > 1:
            total = batch * M * N
            akg_reduce[(triton.cdiv(total, 1024),)]({inputs}, part, out, total, M, N, splits, {program.diagonal}, BLOCK=1024, num_warps=4)"""


def _gemv_launch(program: MatmulProgram, args: list[str], p: MatmulParams) -> str:
    inputs = _kernel_inputs(program, args)
    return f"""
        akg_gemv[(triton.cdiv(M, {p.block_m}), N)]({inputs}, out, M, N, K, a_mat.stride(0), a_mat.stride(1),
                 b_mat.stride(0), b_mat.stride(1), {program.diagonal}, ROWS={p.block_m}, BLOCK_K={p.block_k},
                 num_warps={p.num_warps}, num_stages={p.num_stages})"""


def model_new_source(task: Task, program: MatmulProgram, params: MatmulParams) -> str:
    args = launch_args(program)
    a, b = args[program.a], args[program.b]
    body = _operand_lines(program, a, b)
    if params.kind == "gemv":
        body += _gemv_launch(program, args, params)
    else:
        body += _tiled_launch(program, args, params)
    kernels = generate_matmul(program, params) + (PAD_HELPER if params.pad and params.kind != "gemv" else "")
    return shared_model_new(task, program, TRITON_IMPORTS, kernels, body, " (Triton matmul)")


def _tile_variants(program: MatmulProgram) -> list[MatmulParams]:
    """Best measured first (H100, benchmarks/results/gpu/MATMUL_REPORT.md), then other tile shapes.

    fp32: 3xTF32 tensor-core products first (matched PyTorch's fp32 matmul within 1e-4 there),
    then exact "ieee" products (CUDA-core FMAs: always within tolerance, about 2.6x slower)."""
    if program.dtype == "float32":
        return [
            MatmulParams(128, 64, 32, 8, 4, 4, "tf32x3"),
            MatmulParams(128, 128, 32, 8, 8, 3, "tf32x3"),
            MatmulParams(64, 64, 32, 8, 4, 4, "ieee"),
            MatmulParams(128, 64, 32, 8, 8, 3, "ieee"),
            MatmulParams(128, 128, 32, 8, 8, 3, "ieee"),
        ]
    return [
        MatmulParams(128, 256, 64, 8, 8, 3),
        MatmulParams(128, 128, 64, 8, 8, 3),
        MatmulParams(128, 128, 32, 8, 8, 3),
        MatmulParams(128, 64, 32, 8, 4, 4),
        MatmulParams(64, 64, 32, 8, 4, 4),
    ]


GEMV_VARIANTS = [  # (rows per program, K chunk, warps, stages)
    MatmulParams(4, 1, 1024, 1, 4, 3, kind="gemv"),
    MatmulParams(2, 1, 2048, 1, 8, 3, kind="gemv"),
    MatmulParams(8, 1, 512, 1, 4, 2, kind="gemv"),
    MatmulParams(1, 1, 4096, 1, 8, 3, kind="gemv"),
]


def matmul_variants(program: MatmulProgram) -> list[MatmulParams]:
    """A single output column (matrix-vector): the GEMV kernel first (it is correct for any N,
    one program column per output column, but fast only for a few). Irregular big products (K
    not a multiple of the K tile, the 8205 x 2949 x 5921 kind): the zero-padded launch first, so
    the K loop runs unmasked on aligned rows. Every tiled variant splits K when the output is too
    small to fill the GPU (256 x 256 x 524288)."""
    tiles = _tile_variants(program)
    if program.N == 1 and not program.batched:
        return [*GEMV_VARIANTS, *tiles]
    irregular = any(program.K % p.block_k for p in tiles) or program.N % 16
    if irregular and program.M * program.N >= PAD_MIN_OUTPUT:
        return [replace(p, pad=True) for p in tiles[:2]] + tiles
    return tiles


def matmul_candidates(task: Task, program: MatmulProgram, count: int) -> list[Candidate]:
    summary = ", ".join(dict.fromkeys(program.ops))
    shape = f"{program.M}x{program.N}x{program.K} {program.dtype}"
    candidates = []
    for index, params in enumerate(matmul_variants(program)[: max(count, 1)]):
        what = "Triton GEMV" if params.kind == "gemv" else "Triton tiled matmul (split-K when few tiles)"
        candidates.append(Candidate(
            id=f"builtin-triton-mm-{index}", dsl="triton_cuda", code=model_new_source(task, program, params),
            agent="builtin", step=index, params=asdict(params),
            note=f"{what} ({shape}) with fused epilogue for {summary}",
        ))
    return candidates
