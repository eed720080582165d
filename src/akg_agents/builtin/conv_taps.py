"""Implicit-GEMM convolution with the kernel taps outside and the input channels inside the
reduction: the Triton source of `akg_conv_taps` (conv_triton.py builds the candidates).

Why a second GEMM form. conv_kernels.akg_conv runs its K loop over the flat (channel, tap) index,
so every K step divides each of the BLOCK_M x BLOCK_K gathered elements' index by the tap count
and decodes the tap per dimension: integer work on the whole tile, every step. Here the loop runs
over (tap, block of channels) pairs; the tap and the channel block are scalars, so the input
positions of a tap are computed once per step for the BLOCK_M rows only, and a K step gathers
BLOCK_K consecutive channels at the same positions. That pays off when a group has enough input
channels to fill BLOCK_K (the candidates use it from 16); with 3 channels the flat form wastes less.

Weights are read from `wt`, the layer's weight permuted by forward to (groups, taps, in channels
per group, out channels per group), so a weight tile is one coalesced block.

Transposed convolution with stride S (per dim) is split by output phase r = o mod S: the outputs
of one phase, o = r + S * j, receive exactly the taps k with (r + P - k * D) divisible by S, which
are k = k0 + (S / gcd(S, D)) * t. A program handles one phase, so it visits only those taps: the
gather form of conv_kernels visits all taps and masks out about (S - 1) / S of them per dim.
Its input position is i = j + (r + P - k * D) / S, an exact division.
"""

from __future__ import annotations

from akg_agents.builtin.conv_kernels import AXES, _decode


def conv_gemm_taps(dims: int, transposed: bool, out_dtype: str, precision: str) -> str:
    axes = AXES[:dims]
    ivol = " * ".join(f"I_{a}" for a in axes)
    ovol = " * ".join(f"O_{a}" for a in axes)
    consts = ", ".join(f"{n}_{a}: tl.constexpr" for n in ("K", "S", "P", "D", "STEP") for a in axes)
    sizes = ", ".join([*(f"I_{a}" for a in axes), *(f"O_{a}" for a in axes)])
    ind = "    "
    lines: list[str] = []
    if transposed:
        # The program's output phase r_a, the rows' phase-grid positions j_a and output positions.
        lines += _decode(dims, "ph", "r", "S", ind)
        lines += [f"{ind}Q_{a} = (O_{a} + S_{a} - 1) // S_{a}" for a in axes]
        lines += _decode(dims, "rm", "j", "Q", ind)
        lines += [f"{ind}o_{a} = r_{a} + S_{a} * j_{a}" for a in axes]
        lines.append(f"{ind}m_ok = m_ok & " + " & ".join(f"(o_{a} < O_{a})" for a in axes))
        # First tap of this phase per dim (none when gcd(S, D) does not divide r + P), and count.
        for a in axes:
            lines.append(f"{ind}k0_{a} = K_{a}")
            lines.append(f"{ind}for kk in tl.static_range(STEP_{a}):")
            lines.append(f"{ind}    k0_{a} = tl.where(((r_{a} + P_{a} - kk * D_{a}) % S_{a} == 0) & (k0_{a} == K_{a}), kk, k0_{a})")
            lines.append(f"{ind}nt_{a} = (K_{a} - k0_{a} + STEP_{a} - 1) // STEP_{a}  # 0 when k0 = K")
    else:
        lines += _decode(dims, "rm", "o", "O", ind)
        lines += [f"{ind}nt_{a} = K_{a}" for a in axes]
    lines.append(f"{ind}n_img = {'j' if transposed else 'o'}_rest")
    ntaps = " * ".join(f"nt_{a}" for a in axes)
    inner = ind * 2
    step: list[str] = _decode(dims, "t", "u", "nt", inner)
    for a in axes:
        step.append(f"{inner}k_{a} = k0_{a} + STEP_{a} * u_{a}" if transposed else f"{inner}k_{a} = u_{a}")
        if transposed:  # exact division: (r + P - k * D) is a multiple of S for this phase's taps
            step.append(f"{inner}i_{a} = j_{a} + (r_{a} + P_{a} - k_{a} * D_{a}) // S_{a}")
        else:
            step.append(f"{inner}i_{a} = o_{a} * S_{a} - P_{a} + k_{a} * D_{a}")
    tap = " + ".join(f"k_{a} * ({' * '.join(f'K_{b}' for b in axes[i + 1:]) or '1'})" for i, a in enumerate(axes))
    offset = ""
    for a in axes:
        offset = f"i_{a}" if not offset else f"({offset}) * I_{a} + i_{a}"
    valid = " & ".join(f"(i_{a} >= 0) & (i_{a} < I_{a})" for a in axes)
    dot = f'acc = tl.dot(a, b, acc, input_precision="{precision}")' if out_dtype == "tl.float32" else "acc = tl.dot(a, b, acc)"
    o_flat = ""
    for a in axes:
        o_flat = f"o_{a}" if not o_flat else f"({o_flat}) * O_{a} + o_{a}"
    return f"""@triton.jit
def akg_conv_taps(x, wt, bias, out, C_G, CO_G, G, {sizes}, {consts}, M, HAS_BIAS: tl.constexpr,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    KVOL = {" * ".join(f"K_{a}" for a in axes)}
    PHASES = {" * ".join(f"S_{a}" for a in axes) if transposed else "1"}
    pid_m = tl.program_id(0)
    pid_n = tl.program_id(1)
    g = (tl.program_id(2) // PHASES).to(tl.int64)
    ph = tl.program_id(2) % PHASES
    rm = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    rk = tl.arange(0, BLOCK_K)
    m_ok = rm < M
    n_ok = rn < CO_G
{chr(10).join(lines)}
    x_base = x + (n_img * (C_G * G) + g * C_G) * ({ivol})
    w_base = wt + g * KVOL * C_G * CO_G
    CB = tl.cdiv(C_G, BLOCK_K)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for step in range(0, {ntaps} * CB):
        t = step // CB
        c = (step % CB) * BLOCK_K + rk
        c_ok = c < C_G
{chr(10).join(step)}
        tap = {tap}
        ok = m_ok & {valid}
        a = tl.load(x_base[:, None] + c[None, :].to(tl.int64) * ({ivol}) + ({offset})[:, None],
                    mask=ok[:, None] & c_ok[None, :], other=0.0)
        b = tl.load(w_base + (tap * C_G + c[:, None]) * CO_G + rn[None, :], mask=c_ok[:, None] & n_ok[None, :], other=0.0)
        {dot}
    co = g * CO_G + rn
    if HAS_BIAS:
        acc += tl.load(bias + co, mask=n_ok, other=0.0).to(tl.float32)[None, :]
    offs = (n_img[:, None] * (CO_G * G) + co[None, :]) * ({ovol}) + ({o_flat})[:, None]
    tl.store(out + offs, acc.to({out_dtype}), mask=m_ok[:, None] & n_ok[None, :])
"""
