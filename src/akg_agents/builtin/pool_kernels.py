"""Kernel sources for max / average pooling over 1, 2 or 3 spatial dims (NC + spatial layout).

Both kernels follow PyTorch's definitions exactly:
- window start o * stride - padding, taps start + k * dilation (max pooling only dilates);
- max: padding taps are skipped, NaN propagates (a NaN tap wins and stays);
- average: the sum of the in-bounds taps divided by divisor_override if set, else by the window
  clipped to the padded input (count_include_pad) or to the input itself;
- output sizes (ceil_mode included) are computed by the caller in forward (pool.py).

Triton: one program per BLOCK consecutive outputs of the flattened output (consecutive outputs
along the last dim read neighbouring inputs: coalesced); the taps are unrolled (kernel sizes are
compile-time constants, one compilation per layer configuration) and accumulate in fp32.
C++: one OpenMP iteration per output row (all dims but the last), the taps looped inside.
"""

from __future__ import annotations

AXES = "abc"  # spatial dims' suffixes in the generated code


def _decode(dims: int, flat: str, indent: str) -> list[str]:
    """Lines splitting `flat` into o_a, o_b, ... (last dim fastest) and nc."""
    lines = [f"{indent}t = {flat}"]
    for d in reversed(range(dims)):
        ax = AXES[d]
        lines.append(f"{indent}o_{ax} = t % O_{ax}")
        lines.append(f"{indent}t = t // O_{ax}")
    lines.append(f"{indent}nc = t")
    return lines


def _divisor_tl(dims: int) -> list[str]:
    lines = ["    size_pad = 1.0", "    size_in = 1.0"]
    for d in range(dims):
        ax = AXES[d]
        lines += [
            f"    end_{ax} = tl.minimum(s_{ax} + K_{ax}, I_{ax} + P_{ax})",
            f"    size_pad = size_pad * (end_{ax} - s_{ax}).to(tl.float32)",
            f"    size_in = size_in * (tl.minimum(end_{ax}, I_{ax}) - tl.maximum(s_{ax}, 0)).to(tl.float32)",
        ]
    lines += ["    if DIVISOR > 0:", "        acc = acc / DIVISOR", "    elif INCLUDE_PAD:", "        acc = acc / size_pad",
              "    else:", "        acc = acc / size_in"]
    return lines


def pool_triton(dims: int, is_max: bool, out_dtype: str) -> str:
    axes = AXES[:dims]
    sizes = ", ".join(f"I_{a}" for a in axes) + ", " + ", ".join(f"O_{a}" for a in axes)
    consts = ", ".join(f"{n}_{a}: tl.constexpr" for n in ("K", "S", "P", "D") for a in axes)
    body = _decode(dims, "idx", "    ")
    body.append("    base = x + nc * (" + " * ".join(f"I_{a}" for a in axes) + ")")
    body += [f"    s_{a} = o_{a} * S_{a} - P_{a}" for a in axes]
    body.append("    acc = tl.full((BLOCK,), float('-inf'), tl.float32)" if is_max else "    acc = tl.zeros((BLOCK,), tl.float32)")
    indent = "    "
    offset = "0"
    for a in axes:
        body.append(f"{indent}for k_{a} in tl.static_range(K_{a}):")
        indent += "    "
        body.append(f"{indent}i_{a} = s_{a} + k_{a} * D_{a}")
        prev = "mask" if a == axes[0] else f"ok_{AXES[AXES.index(a) - 1]}"
        body.append(f"{indent}ok_{a} = {prev} & (i_{a} >= 0) & (i_{a} < I_{a})")
        offset = f"i_{a}" if offset == "0" else f"({offset}) * I_{a} + i_{a}"
    last = axes[-1]
    other = "float('-inf')" if is_max else "0.0"
    body.append(f"{indent}v = tl.load(base + {offset}, mask=ok_{last}, other={other}).to(tl.float32)")
    body.append(f"{indent}acc = tl.where((v > acc) | (v != v), v, acc)" if is_max else f"{indent}acc += v")
    if not is_max:
        body += _divisor_tl(dims)
    body.append(f"    tl.store(out + idx, acc.to({out_dtype}), mask=mask)")
    return f"""@triton.jit
def akg_pool(x, out, total, {sizes}, {consts}, DIVISOR: tl.constexpr, INCLUDE_PAD: tl.constexpr,
             BLOCK: tl.constexpr):
    idx = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = idx < total
""" + "\n".join(body) + "\n"


def pool_cpp(dims: int, is_max: bool, threads: int) -> str:
    """Taps outside, outputs inside: each output row accumulates in place, tap by tap, over the
    range of outputs whose input for that tap is in bounds, so the inner loop has no branch and
    g++ vectorizes it (a gather when the stride is not 1)."""
    axes = AXES[:dims]
    outer, last = axes[:-1], axes[-1]
    params = ", ".join(
        ["const float* x", "float* out", "int64_t NC"]
        + [f"int64_t {n}_{a}" for n in ("I", "O", "K", "S", "P", "D") for a in axes]
        + ["int64_t DIVISOR", "int64_t INCLUDE_PAD"]
    )
    rows = " * ".join(["NC", *(f"O_{a}" for a in outer)])
    lines = []
    for a in reversed(outer):
        lines += [f"        const int64_t o_{a} = t % O_{a};", f"        t /= O_{a};"]
    in_size = " * ".join(f"I_{a}" for a in axes)
    taps, indent, offset = [], "        ", ""
    for a in outer:
        taps.append(f"{indent}for (int64_t k_{a} = 0; k_{a} < K_{a}; ++k_{a}) {{")
        indent += "    "
        taps.append(f"{indent}const int64_t i_{a} = o_{a} * S_{a} - P_{a} + k_{a} * D_{a};")
        taps.append(f"{indent}if (i_{a} < 0 || i_{a} >= I_{a}) continue;")
        offset = f"i_{a}" if not offset else f"({offset}) * I_{a} + i_{a}"
    line = f"base + ({offset}) * I_{last}" if offset else "base"
    combine = "orow[o] = (v > orow[o] || v != v) ? v : orow[o];" if is_max else "orow[o] += v;"
    taps += [
        f"{indent}const float* line = {line};",
        f"{indent}for (int64_t k_{last} = 0; k_{last} < K_{last}; ++k_{last}) {{",
        f"{indent}    const int64_t shift = k_{last} * D_{last} - P_{last};  // input = o * S + shift",
        f"{indent}    const int64_t lo = shift >= 0 ? 0 : (-shift + S_{last} - 1) / S_{last};",
        f"{indent}    const int64_t hi = std::min(O_{last}, I_{last} - 1 - shift >= 0 ? (I_{last} - 1 - shift) / S_{last} + 1 : (int64_t)0);",
        f"{indent}    #pragma omp simd",
        f"{indent}    for (int64_t o = lo; o < hi; ++o) {{",
        f"{indent}        const float v = line[o * S_{last} + shift];",
        f"{indent}        {combine}",
        f"{indent}    }}",
        f"{indent}}}",
    ]
    for _ in outer:
        indent = indent[:-4]
        taps.append(f"{indent}}}")
    divisor = ""
    if not is_max:
        divisor = _divisor_cpp(outer, last)
    omp = f"#pragma omp parallel for schedule(static){f' num_threads({threads})' if threads > 0 else ''}"
    init = "-INFINITY" if is_max else "0.0f"
    return f"""#include <cmath>
#include <cstdint>
#include <algorithm>

extern "C" void akg_pool({params}) {{
    const int64_t rows = {rows};
    {omp}
    for (int64_t r = 0; r < rows; ++r) {{
        int64_t t = r;
{chr(10).join(lines)}
        const int64_t nc = t;
        const float* base = x + nc * ({in_size});
        float* orow = out + r * O_{last};
        for (int64_t o = 0; o < O_{last}; ++o) orow[o] = {init};
{chr(10).join(taps)}
{divisor}
    }}
}}
"""


def _divisor_cpp(outer: str, last: str) -> str:
    """Average pooling's divisor: divisor_override, else the window clipped to the padded input
    (count_include_pad) or to the input; the outer dims' factors once per row."""
    lines = ["        double pad_rest = 1.0, in_rest = 1.0;"]
    for a in outer:
        lines.append(f"        {{ const int64_t s = o_{a} * S_{a} - P_{a}; const int64_t e = std::min(s + K_{a}, I_{a} + P_{a});"
                     f" pad_rest *= (double)(e - s); in_rest *= (double)(std::min(e, I_{a}) - std::max(s, (int64_t)0)); }}")
    lines += [
        f"        for (int64_t o = 0; o < O_{last}; ++o) {{",
        f"            const int64_t s = o * S_{last} - P_{last}; const int64_t e = std::min(s + K_{last}, I_{last} + P_{last});",
        "            const double div = DIVISOR > 0 ? (double)DIVISOR : (INCLUDE_PAD ? pad_rest * (double)(e - s)"
        f" : in_rest * (double)(std::min(e, I_{last}) - std::max(s, (int64_t)0)));",
        "            orow[o] = (float)(orow[o] / div);",
        "        }",
    ]
    return "\n".join(lines)
