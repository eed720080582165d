"""Triton sources for N-d convolution and transposed convolution (NC + 1..3 spatial dims, groups).

Index mapping, per spatial dim, from output position o and kernel tap k to input position i:
- convolution:            i = o * stride - padding + k * dilation    (valid when 0 <= i < I)
- transposed convolution: t = o + padding - k * dilation, i = t / stride
                          (valid when t >= 0, t divisible by stride and i < I): the gather form
                          of the scatter PyTorch does, so every output is written by one program.

Two kernels:
- `akg_conv` (implicit GEMM): per group, out[(n, o), co] = sum over (ci, taps) of
  x[n, ci, i(o, tap)] * w[co, ci, tap]: M = N * prod(O) output positions, N = out channels per
  group, K = in channels per group * taps. A BLOCK_M x BLOCK_K tile of the virtual im2col matrix
  is gathered with masks (never materialized), the weight tile is a plain strided load, and
  tl.dot accumulates in fp32 (tensor cores; fp32 inputs as 3xTF32 or exact "ieee").
- `akg_conv_direct`: one program per BLOCK output positions of one (n, out channel), looping
  over the group's input channels and the (unrolled) taps with fp32 FMAs: for depthwise and
  other convolutions with few output channels per group, where a GEMM tile would be mostly empty.
Kernel sizes, strides, paddings and dilations are compile-time constants (one compilation per
layer configuration), so the divisions above are by constants.
"""

from __future__ import annotations

AXES = "abc"


def _decode(dims: int, flat: str, prefix: str, sizes: str, indent: str) -> list[str]:
    """Lines splitting `flat` into {prefix}_a, _b, ... (last fastest) by the sizes {sizes}_a ...;
    the rest is left in `{prefix}_rest`."""
    lines = [f"{indent}{prefix}_rest = {flat}"]
    for d in reversed(range(dims)):
        ax = AXES[d]
        lines.append(f"{indent}{prefix}_{ax} = {prefix}_rest % {sizes}_{ax}")
        lines.append(f"{indent}{prefix}_rest = {prefix}_rest // {sizes}_{ax}")
    return lines


def _input_index(dims: int, transposed: bool, o: str, k: str, indent: str) -> tuple[list[str], str, str]:
    """Lines computing i_a ... and the validity mask `ok`; returns (lines, flat offset, mask)."""
    lines, offset, masks = [], "", []
    for d in range(dims):
        ax = AXES[d]
        if transposed:
            lines.append(f"{indent}t_{ax} = {o.format(ax=ax)} + P_{ax} - {k.format(ax=ax)} * D_{ax}")
            lines.append(f"{indent}i_{ax} = t_{ax} // S_{ax}")
            masks.append(f"(t_{ax} >= 0) & (t_{ax} % S_{ax} == 0) & (i_{ax} < I_{ax})")
        else:
            lines.append(f"{indent}i_{ax} = {o.format(ax=ax)} * S_{ax} - P_{ax} + {k.format(ax=ax)} * D_{ax}")
            masks.append(f"(i_{ax} >= 0) & (i_{ax} < I_{ax})")
        offset = f"i_{ax}" if not offset else f"({offset}) * I_{ax} + i_{ax}"
    return lines, offset, " & ".join(masks)


def _signature(dims: int) -> str:
    axes = AXES[:dims]
    sizes = ", ".join([*(f"I_{a}" for a in axes), *(f"O_{a}" for a in axes)])
    consts = ", ".join(f"{n}_{a}: tl.constexpr" for n in ("K", "S", "P", "D") for a in axes)
    return f"x, w, bias, out, C_G, CO_G, {sizes}, {consts}"


def _weight_offset(transposed: bool) -> str:
    """Offset of w[group's co, ci, tap] as (ci, co-in-group, tap index) -> flat (KVOL taps)."""
    if transposed:  # (C_in, CO_G, *K): in channel g * C_G + ci
        return "((g * C_G + ci) * CO_G + co_g) * KVOL + tap"
    return "((g * CO_G + co_g) * C_G + ci) * KVOL + tap"  # (C_out, C_G, *K)


def conv_gemm(dims: int, transposed: bool, out_dtype: str, precision: str) -> str:
    axes = AXES[:dims]
    kvol = " * ".join(f"K_{a}" for a in axes)
    ivol = " * ".join(f"I_{a}" for a in axes)
    ovol = " * ".join(f"O_{a}" for a in axes)
    body = _decode(dims, "rm", "o", "O", "    ")
    body.append("    n_img = o_rest")
    body.append(f"    x_base = x + (n_img * (C_G * tl.num_programs(2)) + g * C_G) * ({ivol})")
    kdec = _decode(dims, "tap", "k", "K", "        ")
    index_lines, offset, valid = _input_index(dims, transposed, "o_{ax}[:, None]", "k_{ax}[None, :]", "        ")
    dot = f'acc = tl.dot(a, b, acc, input_precision="{precision}")' if out_dtype == "tl.float32" else "acc = tl.dot(a, b, acc)"
    w_off = _weight_offset(transposed).replace("ci", "ci[:, None]").replace("co_g", "rn[None, :]").replace("tap", "tap[:, None]")
    return f"""@triton.jit
def akg_conv({_signature(dims)}, M, HAS_BIAS: tl.constexpr, BLOCK_M: tl.constexpr,
             BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    KVOL = {kvol}  # a product of constexprs: itself a compile-time constant
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = tl.program_id(2).to(tl.int64)
    rm = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    m_ok = rm < M
    n_ok = rn < CO_G
{chr(10).join(body)}
    KG = C_G * KVOL
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, KG, BLOCK_K):
        rk = k0 + tl.arange(0, BLOCK_K)
        k_ok = rk < KG
        ci = rk // KVOL
        tap = rk % KVOL
{chr(10).join(kdec)}
{chr(10).join(index_lines)}
        ok = m_ok[:, None] & k_ok[None, :] & {valid}
        a = tl.load(x_base[:, None] + ci[None, :].to(tl.int64) * ({ivol}) + {offset}, mask=ok, other=0.0)
        b = tl.load(w + {w_off}, mask=k_ok[:, None] & n_ok[None, :], other=0.0)
        {dot}
    co = g * CO_G + rn
    if HAS_BIAS:
        acc += tl.load(bias + co, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    o_flat = rm % ({ovol})
    offs = (n_img[:, None] * (CO_G * tl.num_programs(2)) + co[None, :]) * ({ovol}) + o_flat[:, None]
    tl.store(out + offs, acc.to({out_dtype}), mask=m_ok[:, None] & n_ok[None, :])
"""


def conv_direct(dims: int, transposed: bool, out_dtype: str) -> str:
    axes = AXES[:dims]
    kvol = " * ".join(f"K_{a}" for a in axes)
    ivol = " * ".join(f"I_{a}" for a in axes)
    ovol = " * ".join(f"O_{a}" for a in axes)
    body = _decode(dims, "p", "o", "O", "    ")
    index_lines, offset, valid = _input_index(dims, transposed, "o_{ax}", "k_{ax}", "            ")
    taps = "tap = " + " + ".join(f"k_{a} * ({' * '.join(f'K_{b}' for b in axes[i + 1:]) or '1'})" for i, a in enumerate(axes))
    loops = []
    indent = "        "
    for a in axes:
        loops.append(f"{indent}for k_{a} in tl.static_range(K_{a}):")
        indent += "    "
    inner = "\n".join(
        [f"{indent}{line.strip()}" for line in index_lines]
        + [f"{indent}{taps}",
           f"{indent}wv = tl.load(w + {_weight_offset(transposed)}).to(tl.float32)",
           f"{indent}v = tl.load(x_c + {offset}, mask=p_ok & {valid}, other=0.0).to(tl.float32)",
           f"{indent}acc += v * wv"]
    )
    return f"""@triton.jit
def akg_conv_direct({_signature(dims)}, CO, HAS_BIAS: tl.constexpr, BLOCK: tl.constexpr):
    KVOL = {kvol}  # a product of constexprs: itself a compile-time constant
    p = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    nco = tl.program_id(1).to(tl.int64)
    n_img = nco // CO
    co = nco % CO
    g = co // CO_G
    co_g = co % CO_G
    p_ok = p < {ovol}
{chr(10).join(body)}
    acc = tl.zeros((BLOCK,), dtype=tl.float32)
    for ci in range(0, C_G):
        x_c = x + ((n_img * (CO // CO_G) + g) * C_G + ci) * ({ivol})
{chr(10).join(loops)}
{inner}
    if HAS_BIAS:
        acc += tl.load(bias + co).to(tl.float32)
    tl.store(out + nco * ({ovol}) + p, acc.to({out_dtype}), mask=p_ok)
"""
