"""Convolutions in the loop-nest lowering (poly_lower.py): N-d, stride, padding, dilation, groups.

With groups, the output channel is g*co_g + oc and the input channel g*c_in_g + ci, both affine in
the loop variables (g, oc, ci), so a grouped convolution is one statement like any other. With
`pack`, a zero-padded copy of the input makes the domain a box (no guards on the taps).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.fx

from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.poly_pointwise import Value, access

if TYPE_CHECKING:
    from akg_agents.builtin.poly_lower import PolyLowerer


def lower_conv(lw: PolyLowerer, node: torch.fx.Node, x_arg: Any, weight: Value | None, bias: Value | None,
               stride: Any, padding: Any, dilation: Any, groups: int) -> Value:
    """out = bias (or 0); out[n][co][o..] += x[n][ci][stride*o + dilation*r - pad..] * w[co][ci][r..]."""
    x, x_shape = lw._operand(x_arg)
    if weight is None or weight.array is None:
        raise NotCovered("a convolution whose weight is computed in the model")
    spatial = len(weight.shape) - 2
    out_shape = tuple(node.meta["tensor_meta"].shape)
    if len(x_shape) != spatial + 2 or len(out_shape) != spatial + 2:
        raise NotCovered(f"a convolution of an unbatched input {x_shape}")
    stride, dilation = _ntuple(stride, spatial), _ntuple(dilation, spatial)
    kernel_size = weight.shape[2:]
    pads = _padding(padding, spatial, kernel_size, dilation, stride)
    c_out, c_in_g = weight.shape[0], weight.shape[1]
    co_g = c_out // groups
    # with groups, out channel = g*co_g + oc and in channel = g*c_in_g + r0: both affine
    chan = [("o1", c_out)] if groups == 1 else [("g", groups), ("oc", co_g)]
    co = "o1" if groups == 1 else f"{co_g}*g + oc"
    ci = "r0" if groups == 1 else f"{c_in_g}*g + r0"
    sp = [f"o{d + 2}" for d in range(spatial)]
    if lw.pack and any(pads):
        x, x_shape, pads = _padded(lw, x, x_shape, pads), _padded_shape(x_shape, pads), (0,) * spatial
    subs, conds = [], []
    for d in range(spatial):
        expr = f"{stride[d]}*{sp[d]} + {dilation[d]}*r{d + 1} - {pads[d]}"
        subs.append(expr)
        if pads[d] or (out_shape[d + 2] - 1) * stride[d] + (kernel_size[d] - 1) * dilation[d] - pads[d] >= x_shape[d + 2]:
            conds.append(f"0 <= {expr} < {x_shape[d + 2]}")
    increment = (f"{x}[o0][{ci}]{''.join(f'[{s}]' for s in subs)} * "
                 f"{weight.array}[{co}][r0]{''.join(f'[r{d + 1}]' for d in range(spatial))}")
    if bias is not None and (bias.array is None or bias.shape != (c_out,)):
        raise NotCovered("a convolution bias that is not a (C_out,) tensor")
    # n, co, output rows..., ci, taps, output columns: the innermost loop walks the output
    # and the input rows with the convolution's stride, the weight tap is loop-invariant
    loops = [("o0", out_shape[0]), *chan, *[(sp[d], out_shape[d + 2]) for d in range(spatial - 1)],
             ("r0", c_in_g), *[(f"r{d + 1}", kernel_size[d]) for d in range(spatial)],
             (sp[-1], out_shape[-1])]
    init = (lambda idx: f"{bias.array}[{idx[1]}]") if bias is not None else (lambda idx: "0.0f")
    write = f"[o0][{co}]{''.join(f'[{s}]' for s in sp)}"
    return lw._product(node, init, loops, write, increment, " and ".join(conds) or None)


def lower_conv_transpose(lw: PolyLowerer, node: torch.fx.Node, x_arg: Any, weight: Value | None, bias: Value | None,
                         stride: Any, padding: Any, dilation: Any, groups: int) -> Value:
    """Transposed convolution in its scatter form: out = bias (or 0); then over n, channels, input
    positions i and taps k: out[n][co][stride*i + dilation*k - pad] += x[n][ci][i] * w[ci][oc][k],
    guarded to the output (output_padding only lengthens the output: node's shape has it). Updates
    of one output element come from several (i, k): their order is kept by the dependences."""
    x, x_shape = lw._operand(x_arg)
    if weight is None or weight.array is None:
        raise NotCovered("a transposed convolution whose weight is computed in the model")
    spatial = len(weight.shape) - 2
    out_shape = tuple(node.meta["tensor_meta"].shape)
    if len(x_shape) != spatial + 2 or len(out_shape) != spatial + 2:
        raise NotCovered(f"a transposed convolution of an unbatched input {x_shape}")
    if isinstance(padding, str):
        raise NotCovered(f"a transposed convolution with padding={padding!r}")
    stride, dilation, pads = _ntuple(stride, spatial), _ntuple(dilation, spatial), _ntuple(padding, spatial)
    kernel_size = weight.shape[2:]
    c_in, co_g = weight.shape[0], weight.shape[1]
    c_in_g, c_out = c_in // groups, co_g * groups
    chan = [("o1", c_out)] if groups == 1 else [("g", groups), ("oc", co_g)]
    co, oc = ("o1", "o1") if groups == 1 else (f"{co_g}*g + oc", "oc")
    ci = "r0" if groups == 1 else f"{c_in_g}*g + r0"
    ins = [f"i{d}" for d in range(spatial)]
    taps = [f"k{d}" for d in range(spatial)]
    subs = [f"{stride[d]}*{ins[d]} + {dilation[d]}*{taps[d]} - {pads[d]}" for d in range(spatial)]
    conds = [f"0 <= {subs[d]} < {out_shape[d + 2]}" for d in range(spatial)
             if pads[d] or (x_shape[d + 2] - 1) * stride[d] + (kernel_size[d] - 1) * dilation[d] - pads[d] >= out_shape[d + 2]]
    if bias is not None and (bias.array is None or bias.shape != (c_out,)):
        raise NotCovered("a transposed convolution bias that is not a (C_out,) tensor")
    increment = (f"{x}[o0][{ci}]{''.join(f'[{i}]' for i in ins)} * "
                 f"{weight.array}[{ci}][{oc}]{''.join(f'[{k}]' for k in taps)}")
    # n, channels, in channels, input rows..., taps, input columns: the innermost loop walks the
    # input row and the output row (with the stride)
    loops = [("o0", out_shape[0]), *chan, ("r0", c_in_g), *[(ins[d], x_shape[d + 2]) for d in range(spatial - 1)],
             *[(taps[d], kernel_size[d]) for d in range(spatial)], (ins[-1], x_shape[-1])]
    init = (lambda idx: f"{bias.array}[{idx[1]}]") if bias is not None else (lambda idx: "0.0f")
    write = f"[o0][{co}]{''.join(f'[{s}]' for s in subs)}"
    return lw._product(node, init, loops, write, increment, " and ".join(conds) or None)


def _padded(lw: PolyLowerer, x: str, x_shape: tuple[int, ...], pads: tuple[int, ...]) -> str:
    """A zero-padded copy of the input: the convolution's domain is then a box (no guards)."""
    shape = _padded_shape(x_shape, pads)
    padded = lw._new_array(shape)
    idx = [f"o{d}" for d in range(len(shape))]
    lw._stmt_over(shape, f"{access(padded, shape, idx)} = 0.0f")
    inner = [*idx[:2], *(f"{i} + {p}" for i, p in zip(idx[2:], pads, strict=True))]
    lw._stmt_over(x_shape, f"{padded}{''.join(f'[{i}]' for i in inner)} = {access(x, x_shape, idx)}")
    return padded


def _padded_shape(shape: tuple[int, ...], pads: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape[:2], *(n + 2 * p for n, p in zip(shape[2:], pads, strict=True)))


def _ntuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * n
    values = tuple(int(v) for v in value)
    return values * n if len(values) == 1 else values


def _padding(padding: Any, n: int, kernel: tuple[int, ...], dilation: tuple[int, ...], stride: tuple[int, ...]) -> tuple[int, ...]:
    if padding == "valid":
        return (0,) * n
    if padding == "same":
        if any(s != 1 for s in stride):
            raise NotCovered("padding='same' with a stride")
        return tuple(dilation[d] * (kernel[d] - 1) // 2 for d in range(n))
    return _ntuple(padding, n)
