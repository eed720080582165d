"""MatmulProgram -> packed, cache-blocked GEMM in C++ (cpp DSL): candidates that race the PolyTOPS
loop nests for the matrix-product family on the CPU.

The task is lowered by the same matmul lowering as the Triton generator (lower_matmul.py: plain,
batched and folded products, transposed operands, nn.Linear / F.linear, einsum in matmul form,
triu / tril, a pointwise epilogue over full, column or scalar inputs); cpp_gemm_kernel.py writes the
kernel. Sizes are run-time arguments: the kernel is right for every shape of the task's ranks,
and forward refuses another rank, dtype or an epilogue input that does not fit, in one line.
fp16 / bf16 tasks are widened to float32 in forward (as the loop nests are), computed and
accumulated in float32, and the result narrowed back.

Tunable parameters (`GemmParams`, a candidate's `params` with "generator": "gemm"): the register
tile (mr rows x nv vectors), the output tile (mc rows, nc register-tile columns), the K slice kc,
and threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

from akg_agents.builtin.cpp_gemm_kernel import EpilogueNotCovered, gemm_cpp
from akg_agents.builtin.generator import launch_args, model_new_source
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.matmul_ir import MatmulProgram
from akg_agents.records import Candidate, Task


@dataclass(frozen=True)
class GemmParams:
    mr: int = 6  # register tile rows
    nv: int = 4  # register tile columns, in vectors (16 floats with AVX-512, 8 with AVX2)
    mc: int = 96  # output tile rows
    kc: int = 256  # K slice
    nc: int = 16  # output tile columns, in register tiles
    rows_outer: bool = True  # in a tile, finish a band of rows before the next (else a column band)
    threads: int = 0
    # Read a row-major (not transposed) operand where it lies instead of packing it: MR rows of A
    # are MR streams the micro-kernel broadcasts from; B's rows are read at its row stride.
    a_in_place: bool = False
    b_in_place: bool = False


def gemm_source(program: MatmulProgram, params: GemmParams) -> str:
    return gemm_cpp(program, params.mr, params.nv, params.mc, params.kc, params.nc, params.threads, params.rows_outer,
                    a_in_place=params.a_in_place, b_in_place=params.b_in_place)


# The default first. Reading row-major operands in place (no packing) took 14_matmul from 0.86x
# to 0.96-0.99x of MKL on one thread; packing B stays better where many row tiles re-read it
# (1024^3: 16.0 ms packed, 19.0 ms in place), so both race. Then the session-7 variants
# (benchmarks/results/cpu_gemm: 6x4 rows-outer won 7 of 14 products, 8x2 columns-outer 3,
# 8x2 rows-outer 3). Variants that come out the same for a task (B in place when B is transposed)
# are offered once.
GEMM_VARIANTS = [
    GemmParams(a_in_place=True, b_in_place=True),
    GemmParams(a_in_place=True),
    GemmParams(mr=8, nv=2, mc=256, kc=256, rows_outer=False, a_in_place=True),
    GemmParams(),
    GemmParams(mr=8, nv=2, mc=256, kc=256),
    GemmParams(mr=12, nv=2, mc=192, kc=384),
]


def gemm_program(task: Task) -> MatmulProgram | str:
    """The task's MatmulProgram when the GEMM covers it, else the reason in words."""
    from akg_agents.builtin.triton_matmul import trace_matmul

    try:
        program = trace_matmul(task)
    except NotCovered as why:
        return str(why)
    if program is None:
        return "the model does not start with a matrix product"
    if program.triangle and not program.batched and len(program.output_shape) != 2:
        return "triu / tril of a product with leading dims folded into its rows"
    try:
        gemm_cpp(program, 8, 2, 256, 256, 16, 0)
    except EpilogueNotCovered as why:
        return str(why)
    return program


def _shape_lines(program: MatmulProgram, a: str, b: str) -> list[str]:
    """forward's lines reading batch, M, N, K and the output shape off the operands."""
    rank_a = len(program.inputs[program.a].shape)
    rank_b = len(program.inputs[program.b].shape)
    lines = [f"        if {a}.dim() != {rank_a} or {b}.dim() != {rank_b}:",
             f"            raise ValueError(f'this kernel was generated for operands of ranks {rank_a} and {rank_b}, "
             f"got shapes {{tuple({a}.shape)}} and {{tuple({b}.shape)}}')"]
    if program.batched:
        lines.append(f"        batch = {a}.shape[0]")
        lines.append(f"        _, {'K, M' if program.a_transposed else 'M, K'} = {a}.shape")
        lines.append(f"        _, {'N, Kb' if program.b_transposed else 'Kb, N'} = {b}.shape")
        lines.append("        out_shape = (batch, M, N)")
        same_batch = f" or {b}.shape[0] != batch"
    else:
        lines.append("        batch = 1")
        if program.a_transposed:
            lines.append(f"        K, M = {a}.shape")
            lines.append("        out_shape = (M, N)")
        else:
            lines.append(f"        K = {a}.shape[-1]")
            lines.append(f"        M = math.prod({a}.shape[:-1])")
            lines.append(f"        out_shape = (*{a}.shape[:-1], N)")
        lines.insert(-1, f"        {'N, Kb' if program.b_transposed else 'Kb, N'} = {b}.shape")
        same_batch = ""
    lines += [f"        if Kb != K{same_batch}:",
              f"            raise ValueError(f'matrix product of shapes {{tuple({a}.shape)}} and {{tuple({b}.shape)}}')"]
    return lines


def _guard_lines(program: MatmulProgram, names: list[str]) -> list[str]:
    """dtype of every tensor, and each epilogue input against the output it is applied to."""
    tensors = ", ".join(names)
    lines = [f"        if any(t.dtype != torch.{program.dtype} for t in ({tensors},)):",
             f"            raise ValueError(f'this kernel was generated for {program.dtype} tensors, "
             f"got {{[str(t.dtype) for t in ({tensors},)]}}')"]
    for i in program.extras:
        x, kind = names[i], program.inputs[i].kind
        bad = {"full": f"tuple({x}.shape) != tuple(out_shape)", "col": f"{x}.shape[-1] != N or {x}.numel() != N",
               "scalar": f"{x}.numel() != 1"}[kind]
        what = {"full": "the output shape", "col": "one value per output column", "scalar": "one value"}[kind]
        lines += [f"        if {bad}:",
                  f"            raise ValueError(f'{program.inputs[i].name.removeprefix('param:')} must hold {what} "
                  f"(output {{tuple(out_shape)}}), got {{tuple({x}.shape)}}')"]
    return lines


def gemm_model_new(task: Task, program: MatmulProgram, params: GemmParams) -> str:
    source = gemm_source(program, params)
    kernel = f'KERNEL_SOURCE = r"""\n{source}"""\n\n_lib = load_cpp(KERNEL_SOURCE)'
    args = launch_args(program)
    names = args[:-1]
    a, b = names[program.a], names[program.b]
    lines = _shape_lines(program, a, b) + _guard_lines(program, names)
    widen = ".float().contiguous()" if program.dtype != "float32" else ".contiguous()"
    lines += [f"        _f{i} = {name}{widen}" for i, name in enumerate(names)]
    lines.append(f"        out = torch.empty(out_shape, dtype=torch.float32, device={a}.device)")
    lines.append(f"        _lib.akg_kernel({', '.join(f'_f{i}' for i in range(len(names)))}, out, batch, M, N, K)")
    if program.dtype != "float32":
        lines.append(f"        out = out.to(torch.{program.dtype})")
    imports = "import math\n\nfrom akg_agents.dsl.cpp_loader import load_cpp"
    label = f" (packed GEMM, {params.mr}x{params.nv} vector register tile)"
    return model_new_source(task, program, imports, kernel, "\n".join(lines), label)


GEMM_SHARE = 2  # of `count` candidates, at most this many are GEMMs: the loop nests keep the rest


def race_with_gemm(task: Task, count: int, threads: int, poly: Callable[[Task, int, int], list[Candidate]]) -> list[Candidate]:
    """The loop nests' candidates with the GEMM's in front (its best beat the best loop nest in 27
    of 28 interleaved measurements over 7 products, benchmarks/results/cpu_gemm): up to GEMM_SHARE
    of `count`, the loop nests fill the rest; a chain of two products gets chained GEMMs there. A search walking chosen loop-nest points one at a time (poly_cpp.ONLY) gets those
    alone; a task the GEMM declines gets the loop nests alone, and a product the loop nests
    decline (NotCovered) the GEMMs alone."""
    from akg_agents.builtin.poly_cpp import ONLY

    if ONLY.get() is not None:
        return poly(task, count, threads)
    count = max(count, 1)
    gemms, _why = gemm_candidates(task, min(GEMM_SHARE, count), threads)
    if not gemms:  # two products in a chain (an MLP block): one GEMM each, cpp_gemm_chain.py
        from akg_agents.builtin.cpp_gemm_chain import chain_candidates

        gemms, _why = chain_candidates(task, min(GEMM_SHARE, count), threads)
    if not gemms:
        return poly(task, count, threads)
    return fill_with_nests(task, gemms, count, threads, poly)


def fill_with_nests(task: Task, firsts: list[Candidate], count: int, threads: int,
                    poly: Callable[[Task, int, int], list[Candidate]]) -> list[Candidate]:
    """`firsts`, then loop nests for the rest of `count` (none when the lowering declines)."""
    rest = count - len(firsts)
    if rest <= 0:
        return firsts
    try:
        nests = poly(task, rest, threads)
    except NotCovered:
        nests = []
    return [*firsts, *nests]


def gemm_candidates(task: Task, count: int, threads: int = 0) -> tuple[list[Candidate], str]:
    """Up to `count` GEMM candidates, and '' (or, with no candidate, why the GEMM declined)."""
    program = gemm_program(task)
    if isinstance(program, str):
        return [], program
    summary = ", ".join(dict.fromkeys(program.ops))
    shape = f"{program.M}x{program.N}x{program.K} {program.dtype}"
    candidates: list[Candidate] = []
    sources: set[str] = set()
    for params in GEMM_VARIANTS:
        if len(candidates) >= max(count, 1):
            break
        # Record the flags as applied: an in-place flag means nothing for a transposed operand.
        params = GemmParams(**{**asdict(params), "threads": threads,
                               "a_in_place": params.a_in_place and not program.a_transposed,
                               "b_in_place": params.b_in_place and not program.b_transposed})
        source = gemm_source(program, params)
        if source in sources:  # an in-place flag that does not apply to this task's operands
            continue
        sources.add(source)
        index = len(candidates)
        candidates.append(Candidate(
            id=f"builtin-gemm-{index}", dsl="cpp", code=gemm_model_new(task, program, params), agent="builtin",
            step=index, params={"generator": "gemm", **asdict(params)},
            note=f"packed cache-blocked GEMM ({shape}) with fused epilogue for {summary}",
        ))
    return candidates, ""
