"""RowProgram -> C++ (OpenMP + SIMD-friendly loops) and the ModelNew module around it.

One pass per reduction plus one output pass per row, all inside one parallel loop over rows, so a
fused chain or a norm reads its input from cache instead of making a full trip to memory per
PyTorch op. Pure elementwise programs use a flat loop over blocks instead. Tensors are addressed
through the layout's index groups (ir.Layout); the kernel computes in float32 (the launcher
converts fp16 / bf16 inputs and narrows the output back), argmax / argmin write int64.

Tunable parameters (exposed for search): `threads` (OpenMP threads; 0 = runtime default),
`block` (elements per parallel chunk of the flat loop), `unroll` (inner-loop unroll factor).
"""

from __future__ import annotations

from dataclasses import dataclass

from akg_agents.builtin.cpp_expr import expr_c, math_prelude
from akg_agents.builtin.ir import (
    INDEX_REDUCTIONS,
    Binary,
    RowProgram,
    RowRef,
    Size,
)
from akg_agents.builtin.rowwrap import forward_epilogue, forward_prelude, index_output, training_guard
from akg_agents.builtin.triton_rows import INDEX_NAMES, expr_nodes

REDUCE_INIT = {"sum": "0.0f", "max": "-INFINITY", "min": "INFINITY", "prod": "1.0f", "argmax": "-INFINITY", "argmin": "INFINITY"}
REDUCE_OMP = {"sum": "+", "max": "max", "min": "min", "prod": "*"}
REDUCE_STEP = {"sum": "{acc} += {v};", "max": "{acc} = {v} > {acc} ? {v} : {acc};", "min": "{acc} = {v} < {acc} ? {v} : {acc};",
               "prod": "{acc} *= {v};", "argmax": "if ({v} > {acc}v) {{ {acc}v = {v}; {acc} = j; }}",
               "argmin": "if ({v} < {acc}v) {{ {acc}v = {v}; {acc} = j; }}"}


@dataclass(frozen=True)
class CppParams:
    threads: int = 0
    block: int = 4096
    unroll: int = 2  # 8-lane vectors per inner-loop iteration (0: leave it to the compiler)
    stream: bool = True  # flat kernels: non-temporal stores (skip reading the output into cache)


def _signature(program: RowProgram) -> str:
    args = [f"const float* __restrict__ in{i}" for i in range(len(program.inputs))]
    if program.flat:
        return ", ".join([*args, "float* __restrict__ out", "int64_t rows", "int64_t cols"])
    return ", ".join([*args, *_targets(program), "int64_t rows", "int64_t cols", *_extent_params(program)])


def _targets(program: RowProgram) -> list[str]:
    out_type = "int64_t" if index_output(program) else "float"
    targets = [f"{out_type}* __restrict__ out"]
    if program.final:
        targets += ["float* __restrict__ vals", "float* __restrict__ wts"]
    return targets


def _extent_params(program: RowProgram) -> list[str]:
    return [f"int64_t {name}" for name in ("g0", "g1", "g2", "g3", *sizes_used(program))]


def sizes_used(program: RowProgram) -> list[str]:
    """The full dims whose runtime size an expression uses (Size("d0"): a batchmean)."""
    roots = [r.body for r in program.reductions] + [program.output]
    roots += [e for e in (program.final_weight, program.scan.body if program.scan else None) if e is not None]
    return sorted({e.name for root in roots for e in expr_nodes(root) if isinstance(e, Size) and e.name.startswith("d")})


def _address(program: RowProgram, varies: tuple[bool, ...]) -> str:
    assert program.layout is not None
    order = [g for g in program.layout.order if varies[g]]
    terms = []
    for k, g in enumerate(order):
        stride = " * ".join(f"g{h}" for h in order[k + 1:])
        terms.append(f"{INDEX_NAMES[g]} * {stride}" if stride else INDEX_NAMES[g])
    return " + ".join(terms) or "0"


def _loads(program: RowProgram) -> dict[int, str]:
    return {i: f"in{i}[{_address(program, spec.varies or (False,) * 4)}]" for i, spec in enumerate(program.inputs)}


def _full_address(program: RowProgram) -> str:
    assert program.layout is not None
    return _address(program, tuple(bool(dims) for dims in program.layout.groups))


def _col_index(program: RowProgram) -> str:
    assert program.layout is not None
    if program.layout.groups[2]:
        return "const int64_t co = j / g3, ci = j % g3;"
    return "const int64_t ci = j;"


# Below this many elements a parallel region costs more than it saves (waking sleeping threads
# takes ~10 us; a 64x256 relu takes 3 us on one core), so small problems run on one thread.
PARALLEL_MIN_ELEMENTS = 1 << 15


def _omp_parallel(params: CppParams) -> str:
    threads = f" num_threads({params.threads})" if params.threads > 0 else ""
    return f"#pragma omp parallel for{threads} if(rows * cols >= {PARALLEL_MIN_ELEMENTS}) schedule(static)"


def _simd(params: CppParams, reduction: str = "") -> str:
    """`omp simd` on every inner loop (it licenses reassociating reductions and keeps the bit
    tricks in akg_math.h vectorized). `unroll` asks for that many 8-lane vectors per iteration:
    simdlen(8 * unroll), which g++ implements by unrolling over the hardware vector width."""
    clauses = f" simdlen({8 * params.unroll})" if params.unroll > 0 else ""
    return f"#pragma omp simd{clauses}{reduction}"


def _pointer_params(program: RowProgram) -> str:
    args = [f"const float* __restrict__ in{i}" for i in range(len(program.inputs))]
    return ", ".join([*args, "float* __restrict__ out"])


def _pointer_args(program: RowProgram) -> str:
    return ", ".join([*(f"in{i}" for i in range(len(program.inputs))), "out"])


# The per-block / per-row work lives in its own function: inside an OpenMP-outlined loop body
# the pointers are reloaded from the shared-data struct on every iteration (the store to `out`
# might alias it), which stops vectorization; as __restrict__ parameters they stay in registers.


def _flat_loads(program: RowProgram, index: str) -> dict[int, str]:
    return {i: (f"in{i}[{index}]" if s.kind == "full" else f"in{i}[0]") for i, s in enumerate(program.inputs)}


# Streaming (non-temporal) stores write the output without first reading its lines into cache: a
# pure elementwise kernel then moves 2 bytes per output byte instead of 3 (measured: relu
# 1024x4096 on 2 threads 0.43 ms vs 0.60 ms). Values go through a 64-float aligned buffer so the
# expression still vectorizes with omp simd; the unaligned head/tail take the plain loop.
STREAM_CHUNK = 64


def _streaming_part(program: RowProgram, params: CppParams) -> str:
    if not params.stream:
        return ""
    body = expr_c(program.output, _flat_loads(program, "k + j"))
    return f"""#if defined(__AVX__)
    alignas(32) float chunk[{STREAM_CHUNK}];
    for (; k + {STREAM_CHUNK} <= end && (reinterpret_cast<uintptr_t>(out + k) % 32) == 0; k += {STREAM_CHUNK}) {{
        {_simd(params)}
        for (int64_t j = 0; j < {STREAM_CHUNK}; ++j) {{
            chunk[j] = {body};
        }}
        for (int64_t j = 0; j < {STREAM_CHUNK}; j += 8) {{
            _mm256_stream_ps(out + k + j, _mm256_load_ps(chunk + j));
        }}
    }}
#endif
"""


def generate_flat(program: RowProgram, params: CppParams) -> str:
    """Elementwise over full/scalar inputs: parallel over blocks, vectorized inside each block."""
    body = expr_c(program.output, _flat_loads(program, "t"))
    fence = "#if defined(__AVX__)\n    _mm_sfence();  // streamed stores are visible before we return\n#endif\n" if params.stream else ""
    return f"""static inline void akg_block({_pointer_params(program)}, int64_t begin, int64_t end) {{
    int64_t k = begin;
{_streaming_part(program, params)}    {_simd(params)}
    for (int64_t t = k; t < end; ++t) {{
        out[t] = {body};
    }}
}}

extern "C" void akg_kernel({_signature(program)}) {{
    const int64_t n = rows * cols;
    const int64_t block = {params.block};
    const int64_t blocks = (n + block - 1) / block;
    {_omp_parallel(params)}
    for (int64_t b = 0; b < blocks; ++b) {{
        const int64_t end = (b + 1) * block < n ? (b + 1) * block : n;
        akg_block({_pointer_args(program)}, b * block, end);
    }}
{fence}}}
"""


def _stored_reduction(program: RowProgram) -> int | None:
    """Index of the last reduction when the output is `body / r` of it (softmax's shape): its pass
    can store `body` into the output and the last pass only scales, saving a recomputation."""
    out = program.output
    last = len(program.reductions) - 1
    if (
        program.output_kind == "full" and last >= 0 and isinstance(out, Binary) and out.op == "div"
        and out.b == RowRef(last) and out.a == program.reductions[last].body
    ):
        return last
    return None


def _reduction_pass(program: RowProgram, params: CppParams, index: int, stored: int | None) -> str:
    reduction = program.reductions[index]
    acc = f"r{index}"
    value = expr_c(reduction.body, _loads(program))
    step = REDUCE_STEP[reduction.op].format(acc=acc, v="v")
    store = f"\n        out[{_full_address(program)}] = v;" if index == stored else ""
    if reduction.op in INDEX_REDUCTIONS:  # first index of the extreme value: a sequential scan
        head = f"    int64_t {acc} = 0;\n    float {acc}v = {REDUCE_INIT[reduction.op]};\n"
        return head + _column_loop(program, "", f"const float v = {value};{store}\n        {step}")
    pragma = "    " + _simd(params, f" reduction({REDUCE_OMP[reduction.op]}:{acc})") + "\n"
    body = f"const float v = {value};{store}\n        {step}"
    if reduction.op != "sum":
        return f"    float {acc} = {REDUCE_INIT[reduction.op]};\n" + _column_loop(program, pragma, body)
    # Sums over long rows (a loss or a norm over every element: millions of columns) lose
    # float32 precision in a single accumulator: float partial sums per block, added in double.
    assert program.layout is not None
    if program.layout.groups[2]:
        inner = _column_loop(program, pragma, body).replace("    for (int64_t co = 0; co < g2; ++co) {\n",
                                                           f"    for (int64_t co = 0; co < g2; ++co) {{\n    float {acc} = 0.0f;\n", 1)
        inner = inner[: inner.rstrip().rfind("}")] + f"    {acc}_total += {acc};\n    }}"
    else:
        loop = _column_loop(program, pragma, body, "jb", "je")
        inner = f"""    for (int64_t jb = 0; jb < cols; jb += {SUM_BLOCK}) {{
    const int64_t je = jb + {SUM_BLOCK} < cols ? jb + {SUM_BLOCK} : cols;
    float {acc} = 0.0f;
{loop}
    {acc}_total += {acc};
    }}"""
    return f"    double {acc}_total = 0.0;\n{inner}\n    const float {acc} = (float){acc}_total;"


SUM_BLOCK = 4096


def _column_loop(program: RowProgram, pragma: str, body: str, start: str = "0", stop: str = "cols") -> str:
    """The loop over a row's columns. With two column groups (BatchNorm's (N, HW) around C, a
    loss over broadcast dims) it is a loop over the outer group around a vectorized loop over
    the inner one, instead of a division per element."""
    assert program.layout is not None
    if not program.layout.groups[2]:
        return f"""{pragma}    for (int64_t j = {start}; j < {stop}; ++j) {{
        const int64_t ci = j;
        {body}
    }}"""
    return f"""    for (int64_t co = 0; co < g2; ++co) {{
    {pragma}    for (int64_t ci = 0; ci < g3; ++ci) {{
        const int64_t j = co * g3 + ci;
        (void)j;
        {body}
    }}
    }}"""


def _output_pass(program: RowProgram, params: CppParams, stored: int | None) -> str:
    loads = _loads(program)
    if program.scan is not None:
        scan = program.scan
        j = "cols - 1 - t" if scan.reverse else "t"
        op = "+=" if scan.op == "sum" else "*="
        result = "carry - v" if scan.exclusive else "carry"
        return f"""    float carry = {"0.0f" if scan.op == "sum" else "1.0f"};
    for (int64_t t = 0; t < cols; ++t) {{
        const int64_t j = {j};
        {_col_index(program)}
        const float v = {expr_c(scan.body, loads)};
        carry {op} v;
        out[{_full_address(program)}] = {result};
    }}"""
    if program.output_kind == "row":
        lines = [f"    {'vals' if program.final else 'out'}[i] = {expr_c(program.output, loads)};"]
        if program.final:
            weight = expr_c(program.final_weight, loads) if program.final_weight is not None else "1.0f"
            lines.append(f"    wts[i] = {weight};")
        return "\n".join(lines)
    address = _full_address(program)
    value = f"out[{address}] * (1.0f / r{stored})" if stored is not None else expr_c(program.output, loads)
    return _column_loop(program, f"    {_simd(params)}\n", f"out[{address}] = {value};")


def _row_params(program: RowProgram) -> str:
    args = [f"const float* __restrict__ in{i}" for i in range(len(program.inputs))]
    return ", ".join([*args, *_targets(program), "int64_t i", "int64_t rows", "int64_t cols", *_extent_params(program)])


def _row_args(program: RowProgram) -> str:
    targets = ["out", "vals", "wts"] if program.final else ["out"]
    names = ["g0", "g1", "g2", "g3", *sizes_used(program)]
    return ", ".join([*(f"in{i}" for i in range(len(program.inputs))), *targets, "i", "rows", "cols", *names])


FINAL_SUM = """    // the loss: the sum (or mean) over rows of the per-row values, in double
    double total = 0.0, weight = 0.0;
    for (int64_t i = 0; i < rows; ++i) {{
        total += vals[i];
        weight += wts[i];
    }}
    out[0] = (float)({value});
"""


def generate_rows(program: RowProgram, params: CppParams) -> str:
    """One parallel loop over rows; per row, one vectorized pass per reduction, then the output."""
    assert program.layout is not None
    stored = _stored_reduction(program)
    row_index = "    const int64_t ro = i / g1, ri = i % g1;" if program.layout.groups[1] else "    const int64_t ro = i;"
    passes = [_reduction_pass(program, params, k, stored) for k in range(len(program.reductions))]
    body = "\n".join([row_index, "    (void)ro; (void)rows;", *passes, _output_pass(program, params, stored)])
    final = ""
    if program.final:
        final = FINAL_SUM.format(value="total / weight" if program.final == "mean" else "total")
    return f"""static inline void akg_row({_row_params(program)}) {{
{body}
}}

extern "C" void akg_kernel({_signature(program)}) {{
    {_omp_parallel(params)}
    for (int64_t i = 0; i < rows; ++i) {{
        akg_row({_row_args(program)});
    }}
{final}}}
"""


def generate_cpp(program: RowProgram, params: CppParams) -> str:
    kernel = generate_flat(program, params) if program.flat else generate_rows(program, params)
    headers = "#include <cstdint>\n#include <cmath>\n#if defined(__AVX__)\n#include <immintrin.h>\n#endif\n\n"
    return headers + math_prelude() + "\n" + kernel


def cpp_forward(program: RowProgram) -> str:
    """forward's lines: guards, the inputs arranged and widened to float32, the call, the output
    narrowed back to the inputs' dtype."""
    lines = [*training_guard(program), *forward_prelude(program, compute_dtype="torch.float32")]
    ins = [f"t{i}" for i in range(len(program.inputs))]
    if program.flat:
        lines.append(f"        _lib.akg_kernel({', '.join([*ins, 'out', 'rows', 'cols'])})")
    else:
        targets = ["out"]
        if program.final:
            lines.append("        vals = torch.empty(max(rows, 1), dtype=torch.float32)\n        wts = torch.empty_like(vals)")
            targets = ["out", "vals", "wts"]
        sizes = [f"shape[{name[1:]}]" for name in sizes_used(program)]
        lines.append(f"        _lib.akg_kernel({', '.join([*ins, *targets, 'rows', 'cols', 'g0', 'g1', 'g2', 'g3', *sizes])})")
    if not index_output(program):
        lines.append("        out = out.to(dtype)")
    return "\n".join([*lines, *forward_epilogue(program)])
