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

Tunable parameters (exposed for search): block_m, block_n, block_k, group_m, num_warps,
num_stages, precision (fp32 only).
"""

from __future__ import annotations

import types
from dataclasses import asdict, dataclass

import torch

from akg_agents.builtin.generator import launch_args
from akg_agents.builtin.generator import model_new_source as shared_model_new
from akg_agents.builtin.lower_matmul import lower_matmul_model
from akg_agents.builtin.matmul_ir import ACC_INPUT, MatmulProgram, acc_as_load
from akg_agents.records import Candidate, Task

TL_DTYPE = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16"}
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


def trace_matmul(task: Task) -> MatmulProgram | None:
    """The task as a MatmulProgram, None when its first op is no matrix product (NotCovered when
    it is one but what follows is out of scope)."""
    module = types.ModuleType("akg_builtin_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), module.__dict__)
    torch.manual_seed(0)
    model = module.Model(*module.get_init_inputs()).eval()
    return lower_matmul_model(model, list(module.get_inputs()))


def _epilogue_lines(program: MatmulProgram) -> tuple[list[str], str]:
    from akg_agents.builtin.triton_codegen import expr_tl  # the shared Expr -> Triton printer

    names = {ACC_INPUT: "acc", **{i: f"x{i}" for i in program.extras}}
    lines = []
    for i in program.extras:
        spec = program.inputs[i]
        if spec.kind == "full":
            lines.append(f"    x{i} = tl.load(in{i} + offs, mask=mask, other=0.0).to(tl.float32)")
        elif spec.kind == "col":
            lines.append(f"    x{i} = tl.load(in{i} + rn[None, :], mask=rn[None, :] < N, other=0.0).to(tl.float32)")
        else:
            lines.append(f"    x{i} = tl.load(in{i}).to(tl.float32)")
    return lines, expr_tl(acc_as_load(program.epilogue), names)


def generate_matmul(program: MatmulProgram, params: MatmulParams) -> str:
    a, b = f"in{program.a}", f"in{program.b}"
    if program.b_transposed:  # b is (N, K): element (k, n) at n * K + k
        b_ptrs = f"{b} + rn64[None, :] * K + rk[:, None]"
        b_step = "BLOCK_K"
    else:  # b is (K, N): element (k, n) at k * N + n
        b_ptrs = f"{b} + rk[:, None].to(tl.int64) * N + rn[None, :]"
        b_step = "BLOCK_K * N"
    if program.dtype == "float32":
        dot = f'acc = tl.dot(a, b, acc, input_precision="{params.precision}")'
    else:
        dot = "acc = tl.dot(a, b, acc)"
    loads, value = _epilogue_lines(program)
    signature = ", ".join([*(f"in{i}" for i in range(len(program.inputs))), "out"])
    return f"""@triton.jit
def akg_kernel({signature}, M, N, K, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, EVEN_K: tl.constexpr):
    # Grouped ordering: GROUP_M row-blocks of the output are walked down before moving right,
    # so the A and B panels that neighbouring programs share are read from L2, not DRAM.
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BLOCK_M)
    num_n = tl.cdiv(N, BLOCK_N)
    per_group = GROUP_M * num_n
    first_m = (pid // per_group) * GROUP_M
    size_m = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % per_group) % size_m
    pid_n = (pid % per_group) // size_m
    rm = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    rm64 = rm.to(tl.int64)
    rn64 = rn.to(tl.int64)
    a_ptrs = {a} + rm64[:, None] * K + rk[None, :]
    b_ptrs = {b_ptrs}
    m_ok = rm[:, None] < M
    n_ok = rn[None, :] < N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        if EVEN_K:
            a = tl.load(a_ptrs, mask=m_ok, other=0.0)
            b = tl.load(b_ptrs, mask=n_ok, other=0.0)
        else:
            k_left = K - k
            a = tl.load(a_ptrs, mask=m_ok & (rk[None, :] < k_left), other=0.0)
            b = tl.load(b_ptrs, mask=n_ok & (rk[:, None] < k_left), other=0.0)
        {dot}
        a_ptrs += BLOCK_K
        b_ptrs += {b_step}
    # Fused epilogue on the fp32 accumulator, then one store in the output dtype.
    offs = rm64[:, None] * N + rn[None, :]
    mask = m_ok & n_ok
{chr(10).join(loads)}
    tl.store(out + offs, ({value}).to({TL_DTYPE[program.dtype]}), mask=mask)
"""


TRITON_IMPORTS = """import triton
import triton.language as tl
from triton.language.extra import libdevice"""


def model_new_source(task: Task, program: MatmulProgram, params: MatmulParams) -> str:
    args = launch_args(program)
    a, b = args[program.a], args[program.b]
    n = f"{b}.shape[0]" if program.b_transposed else f"{b}.shape[1]"
    p = params
    launch = f"""        K = {a}.shape[-1]
        M = {a}.numel() // K
        N = {n}
        out = torch.empty((*{a}.shape[:-1], N), dtype={TORCH_DTYPE[program.dtype]}, device={a}.device)
        grid = (triton.cdiv(M, {p.block_m}) * triton.cdiv(N, {p.block_n}),)
        akg_kernel[grid]({", ".join(args)}, M, N, K, BLOCK_M={p.block_m}, BLOCK_N={p.block_n}, BLOCK_K={p.block_k},
                         GROUP_M={p.group_m}, EVEN_K=K % {p.block_k} == 0, num_warps={p.num_warps}, num_stages={p.num_stages})"""
    return shared_model_new(task, program, TRITON_IMPORTS, generate_matmul(program, params), launch,
                            " (Triton matmul)")


def matmul_variants(program: MatmulProgram) -> list[MatmulParams]:
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


def matmul_candidates(task: Task, program: MatmulProgram, count: int) -> list[Candidate]:
    summary = ", ".join(dict.fromkeys(program.ops))
    return [
        Candidate(
            id=f"builtin-triton-mm-{index}", dsl="triton_cuda", code=model_new_source(task, program, params),
            agent="builtin", step=index, params=asdict(params),
            note=f"Triton tiled matmul ({program.M}x{program.N}x{program.K} {program.dtype}) with fused epilogue for {summary}",
        )
        for index, params in enumerate(matmul_variants(program)[: max(count, 1)])
    ]
