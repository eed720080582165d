"""Triton kernel sources for a MatmulProgram (called by triton_matmul.py, which launches them).

Three kernels, all taking the operands by strides (a transposed operand is a strided view, never
a copy), accumulating in fp32 and storing once in the output dtype:

- `akg_kernel`, the tiled product: one program per BLOCK_M x BLOCK_N output tile (grouped
  ordering so neighbouring programs share A / B panels through L2), program_id(1) the batch,
  program_id(2) the K split. Unsplit, it applies triu / tril and the epilogue and stores the
  tile; split (split-K, for outputs with fewer tiles than the GPU has SMs and a long K), each
  split stores its fp32 partial tile and `akg_reduce` sums the splits in a fixed order
  (deterministic, unlike atomics) and applies the epilogue. For triu / tril a tile wholly outside
  the triangle skips its K loop (it only stores zeros): about half the work of triu(A @ B).
- `akg_gemv`, for a product with one output column (matrix-vector): the product is bound by
  reading A once, so each program streams ROWS rows of A in BLOCK_K chunks against the matching
  chunk of the vector with plain fp32 FMAs (no tile of mostly-unused columns), one program per
  output column.
"""

from __future__ import annotations

from akg_agents.builtin.matmul_ir import ACC_INPUT, MatmulProgram, acc_as_load

TL_DTYPE = {"float32": "tl.float32", "float16": "tl.float16", "bfloat16": "tl.bfloat16"}


def epilogue(program: MatmulProgram, offs: str, mask: str, col: str, col_mask: str, indent: str = "    ") -> tuple[str, str]:
    """Lines loading the epilogue's extra inputs at the output offsets `offs`, and the value."""
    from akg_agents.builtin.triton_codegen import expr_tl  # the shared Expr -> Triton printer

    names = {ACC_INPUT: "acc", **{i: f"x{i}" for i in program.extras}}
    lines = []
    for i in program.extras:
        kind = program.inputs[i].kind
        if kind == "full":
            lines.append(f"x{i} = tl.load(in{i} + {offs}, mask={mask}, other=0.0).to(tl.float32)")
        elif kind == "col":
            guard = f", mask={col_mask}, other=0.0" if col_mask else ""
            lines.append(f"x{i} = tl.load(in{i} + {col}{guard}).to(tl.float32)")
        else:
            lines.append(f"x{i} = tl.load(in{i}).to(tl.float32)")
    return "".join(f"{indent}{line}\n" for line in lines), expr_tl(acc_as_load(program.epilogue), names)


def triangle_mask(program: MatmulProgram, rm: str, rn: str) -> str:
    """`acc = tl.where(...)` keeping triu / tril's triangle (rn - rm >= / <= DIAG), or ''."""
    if not program.triangle:
        return ""
    keep = ">=" if program.triangle == "upper" else "<="
    return f"acc = tl.where(({rn}) - ({rm}) {keep} DIAG, acc, 0.0)"


def _signature(program: MatmulProgram) -> str:
    return ", ".join(f"in{i}" for i in range(len(program.inputs)))


def _dead_tile(program: MatmulProgram) -> str:
    """A condition true when no element of the tile is inside triu / tril's triangle."""
    if program.triangle == "upper":  # largest rn - rm in the tile below DIAG
        return "(pid_n * BLOCK_N + BLOCK_N - 1) - (pid_m * BLOCK_M) < DIAG"
    return "(pid_n * BLOCK_N) - (pid_m * BLOCK_M + BLOCK_M - 1) > DIAG"


def tiled_kernel(program: MatmulProgram, precision: str) -> str:
    a, b = f"in{program.a}", f"in{program.b}"
    if program.dtype == "float32":
        dot = f'acc = tl.dot(a, b, acc, input_precision="{precision}")'
    else:
        dot = "acc = tl.dot(a, b, acc)"
    loads, value = epilogue(program, "offs", "mask", "rn[None, :]", "rn[None, :] < N", "        ")
    skip = f"    k_hi = tl.where({_dead_tile(program)}, k_lo, k_hi)\n" if program.triangle else ""
    mask_line = triangle_mask(program, "rm[:, None]", "rn[None, :]")
    return f"""@triton.jit
def akg_kernel({_signature(program)}, out, part, M, N, K, K_PER, stride_ab, stride_am, stride_ak,
               stride_bb, stride_bk, stride_bn, DIAG, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
               BLOCK_K: tl.constexpr, GROUP_M: tl.constexpr, EVEN_K: tl.constexpr, SPLIT: tl.constexpr):
    # Grouped ordering: GROUP_M row-blocks of the output are walked down before moving right,
    # so the A and B panels that neighbouring programs share are read from L2, not DRAM.
    pid = tl.program_id(0)
    batch = tl.program_id(1).to(tl.int64)
    split = tl.program_id(2)
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
    k_lo = split * K_PER
    k_hi = tl.minimum(k_lo + K_PER, K)
{skip}    a_ptrs = {a} + batch * stride_ab + rm64[:, None] * stride_am + (k_lo + rk[None, :]).to(tl.int64) * stride_ak
    b_ptrs = {b} + batch * stride_bb + (k_lo + rk[:, None]).to(tl.int64) * stride_bk + rn64[None, :] * stride_bn
    m_ok = rm[:, None] < M
    n_ok = rn[None, :] < N
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k in range(k_lo, k_hi, BLOCK_K):
        if EVEN_K:
            a = tl.load(a_ptrs, mask=m_ok, other=0.0)
            b = tl.load(b_ptrs, mask=n_ok, other=0.0)
        else:
            k_left = k_hi - k
            a = tl.load(a_ptrs, mask=m_ok & (rk[None, :] < k_left), other=0.0)
            b = tl.load(b_ptrs, mask=n_ok & (rk[:, None] < k_left), other=0.0)
        {dot}
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    offs = batch * M * N + rm64[:, None] * N + rn64[None, :]
    mask = m_ok & n_ok
    if SPLIT:  # fp32 partial tile; akg_reduce adds the splits and applies the epilogue
        tl.store(part + split.to(tl.int64) * (tl.num_programs(1) * M * N) + offs, acc, mask=mask)
    else:
        # triu / tril, then the fused epilogue on the fp32 accumulator, then one store.
        {mask_line or "pass"}
{loads}        tl.store(out + offs, ({value}).to({TL_DTYPE[program.dtype]}), mask=mask)
"""


def reduce_kernel(program: MatmulProgram) -> str:
    loads, value = epilogue(program, "idx", "mask", "idx % N", "mask")
    mask_line = triangle_mask(program, "(idx // N) % M", "idx % N")
    return f"""@triton.jit
def akg_reduce({_signature(program)}, part, out, total, M, N, SPLITS, DIAG, BLOCK: tl.constexpr):
    # Sums the split-K partials in split order (the same result on every run), then the epilogue.
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < total
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    ptrs = part + idx
    for _ in range(0, SPLITS):
        acc += tl.load(ptrs, mask=mask, other=0.0)
        ptrs += total
    {mask_line or "pass"}
{loads}    tl.store(out + idx, ({value}).to({TL_DTYPE[program.dtype]}), mask=mask)
"""


def gemv_kernel(program: MatmulProgram) -> str:
    a, b = f"in{program.a}", f"in{program.b}"
    loads, value = epilogue(program, "offs", "mask", "n", "")
    mask_line = triangle_mask(program, "rm", "n")
    return f"""@triton.jit
def akg_gemv({_signature(program)}, out, M, N, K, stride_am, stride_ak, stride_bk, stride_bn, DIAG,
             ROWS: tl.constexpr, BLOCK_K: tl.constexpr):
    # ROWS rows of A against one column of B: A is read once, in BLOCK_K-wide coalesced chunks;
    # the chunk of B is shared by the ROWS rows. fp32 FMAs into a (ROWS, BLOCK_K) accumulator,
    # summed across K once at the end.
    rm = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    n = tl.program_id(1)
    rk = tl.arange(0, BLOCK_K)
    m_ok = rm < M
    rm64 = rm.to(tl.int64)
    a_ptrs = {a} + rm64[:, None] * stride_am + rk[None, :].to(tl.int64) * stride_ak
    b_ptrs = {b} + n.to(tl.int64) * stride_bn + rk.to(tl.int64) * stride_bk
    acc2 = tl.zeros((ROWS, BLOCK_K), dtype=tl.float32)
    for k in range(0, K, BLOCK_K):
        k_ok = rk < K - k
        av = tl.load(a_ptrs, mask=m_ok[:, None] & k_ok[None, :], other=0.0).to(tl.float32)
        bv = tl.load(b_ptrs, mask=k_ok, other=0.0).to(tl.float32)
        acc2 += av * bv[None, :]
        a_ptrs += BLOCK_K * stride_ak
        b_ptrs += BLOCK_K * stride_bk
    acc = tl.sum(acc2, axis=1)
    offs = rm64 * N + n
    mask = m_ok
    {mask_line or "pass"}
{loads}    tl.store(out + offs, ({value}).to({TL_DTYPE[program.dtype]}), mask=mask)
"""
