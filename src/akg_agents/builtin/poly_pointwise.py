"""Pointwise ops of the loop-nest lowering (poly_lower.py): torch op -> C text over array reads.

A value is an expression `text(idx)` at the consumer's output indices with torch's broadcasting
(right-aligned dims, size-1 dims read at index 0). The op tables are this module's own (the row
lowering's tables serve its row IR); the C templates are cpp_codegen's, so both built-in cpp
paths compute every activation with the same code (akg_math.h).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from akg_agents.builtin.cpp_expr import BINARY_C, UNARY_C, c_float

UNARY_FUNCS: dict[Any, str] = {
    torch.relu: "relu", F.relu: "relu", torch.exp: "exp", torch.log: "log", torch.tanh: "tanh", F.tanh: "tanh",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.erf: "erf", torch.sqrt: "sqrt", torch.rsqrt: "rsqrt",
    torch.abs: "abs", torch.neg: "neg", F.silu: "silu", F.hardswish: "hardswish", F.softplus: "softplus",
}
UNARY_METHODS = {"relu", "exp", "log", "tanh", "sigmoid", "erf", "sqrt", "rsqrt", "abs", "neg"}
UNARY_MODULES: dict[type, str] = {
    nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu", nn.Hardswish: "hardswish",
}
BINARY_FUNCS: dict[Any, str] = {
    operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub", operator.mul: "mul",
    torch.mul: "mul", operator.truediv: "div", torch.div: "div", torch.maximum: "max", torch.minimum: "min",
}
BINARY_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div"}
NO_OPS = {"contiguous", "clone", "detach"}


class PointwiseError(ValueError):
    """An op or shape the pointwise rules do not cover (poly_lower turns it into NotCovered)."""


@dataclass
class Value:
    """A tensor value: `text(idx)` is its C expression at output indices `idx`."""

    shape: tuple[int, ...]
    text: Callable[[list[str]], str]
    array: str | None = None  # set when the value is an array in memory
    home: str | None = None  # a product array of the same shape this value is elementwise in
    nodes: frozenset[str] = frozenset()  # computed fx nodes folded into this expression


def access(name: str, shape: tuple[int, ...], idx: list[str]) -> str:
    """`name[...]` read at the consumer's indices `idx`, right-aligned, size-1 dims at 0."""
    if not shape:
        return f"{name}[0]"
    tail = idx[len(idx) - len(shape):]
    return name + "".join(f"[{'0' if n == 1 else i}]" for n, i in zip(shape, tail, strict=True))


def constant(value: float) -> Value:
    text = c_float(float(value))
    return Value((), lambda idx: text)


def unary(op: str, x: Value, node_name: str, param: float = 0.0) -> Value:
    template = UNARY_C.get(op)
    if template is None:
        raise PointwiseError(f"pointwise {op}")
    return Value(x.shape, lambda idx: template.format(a=x.text(idx), p=repr(param)), None, x.home,
                 x.nodes | {node_name})


def binary(op: str, a: Value, b: Value, node_name: str) -> Value:
    try:
        shape = tuple(torch.broadcast_shapes(a.shape, b.shape))
    except RuntimeError:
        raise PointwiseError(f"shapes {a.shape} and {b.shape} do not broadcast") from None
    template = BINARY_C[op]
    home = next((v.home for v in (a, b) if v.home and v.shape == shape), None)
    return Value(shape, lambda idx: template.format(a=a.text(idx), b=b.text(idx)), None, home,
                 a.nodes | b.nodes | {node_name})


def module_op(sub: nn.Module) -> tuple[str, float] | None:
    """(op, parameter) of a pointwise module; None when it is not one."""
    if type(sub) in UNARY_MODULES:
        return UNARY_MODULES[type(sub)], 0.0
    if isinstance(sub, nn.GELU):
        return ("gelu_tanh" if sub.approximate == "tanh" else "gelu"), 0.0
    if isinstance(sub, nn.LeakyReLU):
        return "leaky_relu", float(sub.negative_slope)
    return None
