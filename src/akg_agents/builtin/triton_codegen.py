"""RowProgram -> Triton (triton_cuda) and the ModelNew module around it.

Same IR as cpp_codegen.py (see ir.py), mapped onto the GPU:
- flat programs (pure elementwise over full/scalar inputs): one program per BLOCK contiguous
  elements, a 1-D tile; every warp reads consecutive addresses (coalesced, 128-bit vectors).
- row programs: one program per ROWS rows, a [ROWS, BLOCK] tile. When BLOCK covers the whole row
  the row is loaded once into registers and every reduction and the output are computed from
  them (one DRAM read, one write: the minimum). Wider rows are walked in BLOCK-wide chunks,
  one loop per reduction plus one for the output (re-reads hit L2).

Tunable parameters (exposed for search): `block` (columns per tile; 0 = the whole row rounded
up to a power of two, or 2048 elements for flat programs), `rows` (rows per program), `num_warps`,
`num_stages` (software pipelining of the chunk loops).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

from akg_agents.builtin.generator import launch_args, row_output, trace_program
from akg_agents.builtin.generator import model_new_source as shared_model_new
from akg_agents.builtin.ir import Binary, Const, Expr, Load, RowProgram, RowRef, Unary
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
REDUCE_TL = {"sum": ("tl.sum", "0.0"), "max": ("tl.max", "float('-inf')"), "min": ("tl.min", "float('inf')")}


@dataclass(frozen=True)
class TritonParams:
    block: int = 0
    rows: int = 1
    num_warps: int = 8
    num_stages: int = 1


def _float(value: float) -> str:
    if value != value:
        return "float('nan')"
    if value in (float("inf"), float("-inf")):
        return "float('inf')" if value > 0 else "float('-inf')"
    return repr(float(value))


def expr_tl(expr: Expr, names: dict[int, str]) -> str:
    if isinstance(expr, Load):
        return names[expr.input]
    if isinstance(expr, Const):
        return _float(expr.value)
    if isinstance(expr, RowRef):
        return f"r{expr.index}"
    if isinstance(expr, Unary):
        return UNARY_TL[expr.op].format(a=expr_tl(expr.a, names), p=_float(expr.param))
    if isinstance(expr, Binary):
        if expr.op == "pow" and isinstance(expr.b, Const) and expr.b.value == 2.0:
            a = expr_tl(expr.a, names)
            return f"({a} * {a})"  # x ** 2: a multiply, not libdevice's general pow
        return BINARY_TL[expr.op].format(a=expr_tl(expr.a, names), b=expr_tl(expr.b, names))
    raise TypeError(expr)


def _params(program: RowProgram) -> str:
    return ", ".join([*(f"in{i}" for i in range(len(program.inputs))), "out"])


def _load_lines(program: RowProgram, col: str, mask: str, indent: str) -> list[str]:
    """One `x{i} = tl.load(...)` per input (float32 in registers), for the tile at `col`."""
    index = {"full": f"r * cols + {col}", "row": "r", "col": col, "scalar": "0"}
    masks = {"full": mask, "row": "rmask", "col": f"{col} < cols", "scalar": "None"}
    lines = []
    for i, spec in enumerate(program.inputs):
        m = masks[spec.kind]
        extra = f", mask={m}, other=0.0" if m != "None" else ""
        lines.append(f"{indent}x{i} = tl.load(in{i} + {index[spec.kind]}{extra}).to(tl.float32)")
    return lines


def generate_flat(program: RowProgram) -> str:
    names = {i: f"x{i}" for i in range(len(program.inputs))}
    loads = [
        f"    x{i} = tl.load(in{i} + offs, mask=mask, other=0.0).to(tl.float32)" if spec.kind == "full"
        else f"    x{i} = tl.load(in{i}).to(tl.float32)"
        for i, spec in enumerate(program.inputs)
    ]
    return f"""@triton.jit
def akg_kernel({_params(program)}, n, BLOCK: tl.constexpr):
    # One program per BLOCK contiguous elements: coalesced 128-bit loads, one pass over memory.
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
{chr(10).join(loads)}
    tl.store(out + offs, {expr_tl(program.output, names)}, mask=mask)
"""


def generate_rows(program: RowProgram, whole_row: bool) -> str:
    names = {i: f"x{i}" for i in range(len(program.inputs))}
    head = [
        "    # ROWS rows per program; r is a column vector of row ids, c a row vector of columns.",
        "    r = tl.program_id(0).to(tl.int64) * ROWS + tl.arange(0, ROWS)[:, None]",
        "    rmask = r < rows",
    ]
    body: list[str] = []
    if whole_row:
        body += ["    # The whole row fits in registers: one DRAM read serves every pass below.",
                 "    c = tl.arange(0, BLOCK)[None, :]", "    mask = rmask & (c < cols)"]
        body += _load_lines(program, "c", "mask", "    ")
        for index, reduction in enumerate(program.reductions):
            fn, neutral = REDUCE_TL[reduction.op]
            value = expr_tl(reduction.body, names)
            # masked lanes hold 0.0, which is not neutral after e.g. exp(x - max): mask them out
            body.append(f"    r{index} = {fn}(tl.where(mask, {value}, {neutral}), axis=1)[:, None]")
    else:
        for index, reduction in enumerate(program.reductions):
            fn, neutral = REDUCE_TL[reduction.op]
            body += [f"    acc = tl.full((ROWS, BLOCK), {neutral}, tl.float32)",
                     "    for start in tl.range(0, cols, BLOCK, num_stages=STAGES):",
                     "        c = start + tl.arange(0, BLOCK)[None, :]", "        mask = rmask & (c < cols)"]
            body += _load_lines(program, "c", "mask", "        ")
            value = expr_tl(reduction.body, names)
            combine = {"sum": "acc + v", "max": "tl.maximum(acc, v)", "min": "tl.minimum(acc, v)"}[reduction.op]
            body += [f"        v = tl.where(mask, {value}, {neutral})", f"        acc = {combine}",
                     f"    r{index} = {fn}(acc, axis=1)[:, None]"]
    if program.output_kind == "row":
        row_names = {i: f"x{i}" for i in range(len(program.inputs))}
        if not whole_row:
            body += _load_lines(program, "0", "rmask", "    ")
        body.append(f"    tl.store(out + r, {expr_tl(program.output, row_names)}, mask=rmask)")
    elif whole_row:
        body.append(f"    tl.store(out + r * cols + c, {expr_tl(program.output, names)}, mask=mask)")
    else:
        body += ["    for start in tl.range(0, cols, BLOCK, num_stages=STAGES):",
                 "        c = start + tl.arange(0, BLOCK)[None, :]", "        mask = rmask & (c < cols)"]
        body += _load_lines(program, "c", "mask", "        ")
        body.append(f"        tl.store(out + r * cols + c, {expr_tl(program.output, names)}, mask=mask)")
    return f"""@triton.jit
def akg_kernel({_params(program)}, rows, cols, ROWS: tl.constexpr, BLOCK: tl.constexpr, STAGES: tl.constexpr):
{chr(10).join(head + body)}
"""


def _pow2(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def resolve(program: RowProgram, params: TritonParams) -> TritonParams:
    """Fill in the defaults that depend on the program's shape."""
    if program.flat:
        return TritonParams(params.block or 2048, 1, params.num_warps, params.num_stages)
    whole = _pow2(program.cols)
    block = params.block or (whole if whole <= MAX_REGISTER_ROW else 4096)
    return TritonParams(min(block, whole), params.rows, params.num_warps, params.num_stages)


def generate_triton(program: RowProgram, params: TritonParams) -> str:
    p = resolve(program, params)
    if program.flat:
        return generate_flat(program)
    return generate_rows(program, whole_row=p.block >= program.cols)


TRITON_IMPORTS = """import triton
import triton.language as tl
from triton.language.extra import libdevice"""


def model_new_source(task: Task, program: RowProgram, params: TritonParams) -> str:
    p = resolve(program, params)
    args = ", ".join(launch_args(program))
    if program.flat:
        launch = (f"        n = out.numel()\n        akg_kernel[(triton.cdiv(n, {p.block}),)]"
                  f"({args}, n, BLOCK={p.block}, num_warps={p.num_warps})")
    else:
        launch = (f"        akg_kernel[(triton.cdiv(rows, {p.rows}),)]({args}, rows, cols, "
                  f"ROWS={p.rows}, BLOCK={p.block}, STAGES={p.num_stages}, num_warps={p.num_warps})")
    body = row_output(program) + "\n" + launch
    return shared_model_new(task, program, TRITON_IMPORTS, generate_triton(program, params), body, " (Triton)")


def triton_variants(program: RowProgram) -> list[TritonParams]:
    """Default first, then a small grid over tile width, rows per program and warps."""
    default = TritonParams()
    if program.flat:
        grid = [TritonParams(block, 1, warps) for block, warps in itertools.product((2048, 4096, 1024, 8192), (8, 4, 16))]
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
