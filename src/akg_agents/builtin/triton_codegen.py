"""RowProgram -> Triton (triton_cuda) and the ModelNew module around it.

Same IR as cpp_codegen.py (see ir.py), mapped onto the GPU (kernel text: triton_rows.py):
- flat programs (pure elementwise over full/scalar inputs): one program per BLOCK contiguous
  elements, a 1-D tile; every warp reads consecutive addresses (coalesced, 128-bit vectors).
- row programs: one program per ROWS rows, a [ROWS, BLOCK] tile. When BLOCK covers the whole row
  the row is loaded once into registers and every reduction and the output are computed from
  them (one DRAM read, one write: the minimum). Wider rows are walked in BLOCK-wide chunks,
  one loop per reduction plus one for the output (re-reads hit L2). Few long rows (a loss over
  every element, a norm over the whole tensor) take the two-stage form: the columns are cut into
  chunks reduced by separate programs, so the whole GPU works on them.
- every value is computed in float32 whatever the inputs' dtype (fp16 / bf16 loads are widened,
  stores narrowed to the output's dtype).

Tunable parameters (exposed for search): `block` (columns per tile; 0 = the whole row rounded
up to a power of two, or 2048 elements for flat programs), `rows` (rows per program), `num_warps`,
`num_stages` (software pipelining of the chunk loops), `split` (column chunks of the two-stage
form; 0 = chosen at run time from the shape).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from akg_agents.builtin.generator import model_new_source as shared_model_new
from akg_agents.builtin.generator import trace_program
from akg_agents.builtin.ir import (
    COMPARISONS,
    INDEX_REDUCTIONS,
    Binary,
    ColIndex,
    Const,
    Expr,
    Load,
    RowProgram,
    RowRef,
    Size,
    Unary,
    Where,
)
from akg_agents.builtin.rowwrap import HELPERS, forward_epilogue, forward_prelude, init_guard, training_guard
from akg_agents.builtin.triton_rows import FINAL_KERNEL, MUL_HELPER, TritonRows, uses_product
from akg_agents.records import Candidate, Task

MAX_REGISTER_ROW = 16384  # widest row kept whole in registers (64 KB of fp32 per program)

UNARY_TL = {
    "relu": "tl.where({a} < 0.0, 0.0, {a})",
    "exp": "tl.exp({a})",
    "log": "tl.log({a})",
    "tanh": "(2.0 * tl.sigmoid(2.0 * {a}) - 1.0)",
    "sigmoid": "tl.sigmoid({a})",
    "erf": "tl.erf({a})",
    "sqrt": "tl.sqrt({a})",
    "rsqrt": "tl.rsqrt({a})",
    "abs": "tl.abs({a})",
    "neg": "(-{a})",
    "gelu": "(0.5 * {a} * (1.0 + tl.erf({a} * 0.7071067811865476)))",
    "gelu_tanh": "(0.5 * {a} * (2.0 * tl.sigmoid(1.5957691216057308 * ({a} + 0.044715 * {a} * {a} * {a}))))",
    "silu": "({a} * tl.sigmoid({a}))",
    "hardswish": "({a} * tl.minimum(tl.maximum({a} + 3.0, 0.0), 6.0) * (1.0 / 6.0))",
    "softplus": "tl.where({a} > 20.0, {a}, tl.log(1.0 + tl.exp({a})))",
    "leaky_relu": "tl.where({a} < 0.0, {a} * {p}, {a})",
}
BINARY_TL = {
    "add": "({a} + {b})",
    "sub": "({a} - {b})",
    "mul": "({a} * {b})",
    "div": "({a} / {b})",
    "max": "tl.maximum({a}, {b})",
    "min": "tl.minimum({a}, {b})",
    "pow": "libdevice.pow({a}, {b})",
}
COMPARE_TL = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


@dataclass(frozen=True)
class TritonParams:
    block: int = 0
    rows: int = 1
    num_warps: int = 8
    num_stages: int = 1
    split: int = 0  # column chunks of the two-stage form (0: chosen at run time)


def _float(value: float) -> str:
    if value != value:
        return "float('nan')"
    if value in (float("inf"), float("-inf")):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(float(value))


def _condition(expr: Expr, names: dict[int, str]) -> str:
    if isinstance(expr, Binary) and expr.op in COMPARISONS:
        return f"({expr_tl(expr.a, names)} {COMPARE_TL[expr.op]} {expr_tl(expr.b, names)})"
    return f"({expr_tl(expr, names)} != 0.0)"


def expr_tl(expr: Expr, names: dict[int, str]) -> str:
    if isinstance(expr, Load):
        return names[expr.input]
    if isinstance(expr, Const):
        return _float(expr.value)
    if isinstance(expr, RowRef):
        return f"r{expr.index}"
    if isinstance(expr, Size):
        return f"({expr.name} * 1.0)"  # a runtime int, as float
    if isinstance(expr, ColIndex):
        return "(j * 1.0)"
    if isinstance(expr, Where):
        return f"tl.where({_condition(expr.cond, names)}, {expr_tl(expr.a, names)}, {expr_tl(expr.b, names)})"
    if isinstance(expr, Unary):
        return UNARY_TL[expr.op].format(a=expr_tl(expr.a, names), p=_float(expr.param))
    if isinstance(expr, Binary):
        if expr.op in COMPARISONS:
            return f"tl.where({_condition(expr, names)}, 1.0, 0.0)"
        if expr.op == "pow" and isinstance(expr.b, Const) and expr.b.value == 2.0:
            a = expr_tl(expr.a, names)
            return f"({a} * {a})"  # x ** 2: a multiply, not libdevice's general pow
        return BINARY_TL[expr.op].format(a=expr_tl(expr.a, names), b=expr_tl(expr.b, names))
    raise TypeError(expr)


def generate_flat(program: RowProgram) -> str:
    names = {i: f"x{i}" for i in range(len(program.inputs))}
    loads = [
        f"    x{i} = tl.load(in{i} + offs, mask=mask, other=0.0).to(tl.float32)" if spec.kind == "full"
        else f"    x{i} = tl.load(in{i}).to(tl.float32)"
        for i, spec in enumerate(program.inputs)
    ]
    params = ", ".join([*(f"in{i}" for i in range(len(program.inputs))), "out"])
    return f"""@triton.jit
def akg_kernel({params}, n, BLOCK: tl.constexpr):
    # One program per BLOCK contiguous elements: coalesced 128-bit loads, one pass over memory.
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
{chr(10).join(loads)}
    tl.store(out + offs, {expr_tl(program.output, names)}, mask=mask)
"""


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def stageable(program: RowProgram) -> bool:
    """The two-stage form needs reductions whose partial results combine (not arg-max / min)."""
    return bool(program.reductions) and program.scan is None and not any(r.op in INDEX_REDUCTIONS for r in program.reductions)


def resolve(program: RowProgram, params: TritonParams) -> TritonParams:
    """Fill in the defaults that depend on the program's shape."""
    if program.flat:
        return TritonParams(params.block or 2048, 1, params.num_warps, params.num_stages, 0)
    whole = _pow2(program.cols)
    layout = program.layout
    rows = params.rows if layout is None or layout.groups[0] or layout.groups[1] else 1  # one row: one per program
    if program.scan is not None:
        return TritonParams(min(params.block or 1024, whole), rows, params.num_warps, params.num_stages, 0)
    block = params.block or (whole if whole <= MAX_REGISTER_ROW else 4096)
    return TritonParams(min(block, whole), rows, params.num_warps, params.num_stages,
                        params.split if stageable(program) else 0)


def generate_triton(program: RowProgram, params: TritonParams) -> str:
    p = resolve(program, params)
    if program.flat:
        return generate_flat(program)
    rows = TritonRows(program, expr_tl)
    parts = [MUL_HELPER] if uses_product(program) else []
    if program.scan is not None:
        return "\n\n".join([*parts, rows.scan()])
    parts.append(rows.fused(whole_row=False))
    if p.block >= program.cols:
        parts.append(rows.fused(whole_row=True).replace("def akg_kernel(", "def akg_row(", 1))
    if stageable(program):
        parts.append(rows.staged())
    if program.final:
        parts.append(FINAL_KERNEL)
    return "\n\n".join(parts)


TRITON_IMPORTS = """import math

import triton
import triton.language as tl
from triton.language.extra import libdevice"""

SPLIT_RULE = '''

def _splits(rows, cols, block, forced):
    """Column chunks for the two-stage form: enough programs to fill the GPU when rows are few."""
    if forced:
        return max(1, min(forced, triton.cdiv(cols, block)))
    if rows >= 512 or cols <= 4 * block:
        return 1
    return max(1, min(triton.cdiv(1024, rows), triton.cdiv(cols, block), 1024))
'''


def _launch_lines(program: RowProgram, p: TritonParams, rows_gen: TritonRows) -> list[str]:
    ins = [f"t{i}" for i in range(len(program.inputs))]
    if program.flat:
        return ["        n = out.numel()", f"        akg_kernel[(triton.cdiv(n, {p.block}),)]({', '.join([*ins, 'out'])}, n, "
                f"BLOCK={p.block}, num_warps={p.num_warps})"]
    lines = []
    targets = ["out"]
    if program.final:
        lines.append("        vals = torch.empty(max(rows, 1), dtype=torch.float32, device=out.device)")
        targets = ["vals"]
        if program.final_weight is not None:
            lines.append("        wts = torch.empty(max(rows, 1), dtype=torch.float32, device=out.device)")
            targets = ["vals", "wts"]
    sizes = [f"shape[{name[1:]}]" for name in rows_gen.sizes()]
    tail = ", ".join(["rows", "cols", "g0", "g1", "g2", "g3", *sizes])
    head = ", ".join([*ins, *targets])
    meta = f"ROWS={p.rows}, BLOCK={p.block}, STAGES={p.num_stages}, num_warps={p.num_warps}"
    grid = f"(triton.cdiv(rows, {p.rows}),)"
    if program.scan is not None:
        return [*lines, f"        akg_scan[{grid}]({head}, {tail}, {meta})"]
    def fused(indent: str) -> list[str]:
        call = f"[{grid}]({head}, {tail}, {meta})"
        if p.block < program.cols:
            return [f"{indent}akg_kernel{call}"]
        return [f"{indent}if cols <= {p.block}:", f"{indent}    akg_row{call}", f"{indent}else:", f"{indent}    akg_kernel{call}"]

    if stageable(program):
        nred = len(program.reductions)
        out_chunks = "nsplit" if program.output_kind == "full" else "1"
        staged_meta = f"{meta}, SPLITS=triton.next_power_of_2(nsplit)"
        lines += [f"        nsplit = _splits(rows, cols, {p.block}, {p.split})", "        if nsplit > 1:",
                  f"            chunk = triton.cdiv(triton.cdiv(cols, nsplit), {p.block}) * {p.block}",
                  "            nsplit = triton.cdiv(cols, chunk)",
                  f"            part = torch.empty(({nred}, rows, nsplit), dtype=torch.float32, device=out.device)"]
        for k in range(nred):
            lines.append(f"            akg_part{k}[(triton.cdiv(rows, {p.rows}), nsplit)]({head}, part, nsplit, chunk, {tail}, {staged_meta})")
        lines += [f"            akg_out[(triton.cdiv(rows, {p.rows}), {out_chunks})]({head}, part, nsplit, chunk, {tail}, {staged_meta})",
                  "        else:", *fused("            ")]
    else:
        lines += fused("        ")
    if program.final:
        weights = "wts" if program.final_weight is not None else "vals"
        lines.append(f"        akg_final[(1,)](vals, {weights}, out, rows, WEIGHTED={program.final_weight is not None}, "
                     f"MEAN={program.final == 'mean'}, BLOCK=1024)")
    return lines


def model_new_source(task: Task, program: RowProgram, params: TritonParams) -> str:
    p = resolve(program, params)
    rows_gen = TritonRows(program, expr_tl)
    body = [*training_guard(program), *forward_prelude(program), *_launch_lines(program, p, rows_gen), *forward_epilogue(program)]
    kernels = HELPERS + SPLIT_RULE + "\n\n" + generate_triton(program, params)
    return shared_model_new(task, program, TRITON_IMPORTS, kernels, "\n".join(body), " (Triton)", init_guard=init_guard(program))


def triton_variants(program: RowProgram) -> list[TritonParams]:
    """Default first, then a small grid over tile width, rows per program and warps."""
    default = TritonParams()
    if program.flat:
        grid = [TritonParams(block, 1, warps) for block, warps in itertools.product((2048, 4096, 1024, 8192), (8, 4, 16))]
    elif program.layout is not None and program.layout.order[-1] == 1:
        # consecutive rows are adjacent in memory (a reduction over a middle dim): a tile of many
        # rows and few columns makes each load of the tile one coalesced run along the rows
        default = TritonParams(block=32, rows=64, num_warps=4)
        grid = [TritonParams(b, r, w) for b, r, w in itertools.product((32, 16, 64), (64, 128, 32), (4, 8))]
    else:
        whole = _pow2(program.cols)
        blocks = [0, *(b for b in (4096, 2048, 1024) if b < whole)]
        rows = (1, 2, 4) if whole <= 2048 else (1,)
        grid = [TritonParams(b, r, w, s) for b, r, w, s in itertools.product(blocks, rows, (8, 4, 16), (1, 3))
                if s == 1 or (b and b < whole)]
    unique: dict[TritonParams, TritonParams] = {}
    for params in [default, *grid]:
        unique.setdefault(resolve(program, params), params)  # one candidate per distinct kernel
    return list(unique.values())


def triton_candidates(task: Task, count: int, threads: int = 0) -> list[Candidate]:
    """Up to `count` Triton candidates for `task` (raises NotCovered when out of scope)."""
    from akg_agents.builtin.triton_matmul import matmul_candidates, trace_matmul

    matmul = trace_matmul(task)  # a matrix product with a pointwise epilogue: triton_matmul.py
    if matmul is not None:
        return matmul_candidates(task, matmul, count)
    program = trace_program(task)
    candidates = []
    for index, params in enumerate(triton_variants(program)[: max(count, 1)]):
        candidates.append(Candidate(
            id=f"builtin-triton-{index}", dsl="triton_cuda", code=model_new_source(task, program, params),
            agent="builtin", step=index, params=asdict(resolve(program, params)),
            note=f"Triton row program ({len(program.reductions)} reductions) for {', '.join(dict.fromkeys(program.ops)) or 'identity'}",
        ))
    return candidates
