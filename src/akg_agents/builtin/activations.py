"""Elementwise activations as IR expressions (ir.py), built from the primitives every code
generator prints: exp, log, tanh, sigmoid, erf, comparisons and Where.

Each entry names the activation's parameters with torch's defaults, read from a functional call's
arguments (position after the input, or keyword) or from the nn module's attributes.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from akg_agents.builtin.ir import Binary, Const, Expr, Unary, Where

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _c(value: float) -> Const:
    return Const(float(value))


def _mul(a: Expr, b: Expr) -> Expr:
    return Binary("mul", a, b)


def _add(a: Expr, b: Expr) -> Expr:
    return Binary("add", a, b)


def _clamp(x: Expr, low: float | None, high: float | None) -> Expr:
    if low is not None:
        x = Binary("max", x, _c(low))
    if high is not None:
        x = Binary("min", x, _c(high))
    return x


def elu(x: Expr, alpha: float, scale: float = 1.0) -> Expr:
    negative = _mul(_c(alpha * scale), Binary("sub", Unary("exp", x), _c(1.0)))
    return Where(Binary("gt", x, _c(0.0)), _mul(_c(scale), x) if scale != 1.0 else x, negative)


def softplus(x: Expr, beta: float = 1.0, threshold: float = 20.0) -> Expr:
    # torch: linear where beta * x > threshold (exp would overflow), else log1p(exp(bx)) / beta
    bx = _mul(_c(beta), x) if beta != 1.0 else x
    soft: Expr = Unary("log", _add(_c(1.0), Unary("exp", bx)))
    if beta != 1.0:
        soft = Binary("div", soft, _c(beta))
    return Where(Binary("gt", bx, _c(threshold)), x, soft)


def hardsigmoid(x: Expr) -> Expr:
    return Binary("div", _clamp(_add(x, _c(3.0)), 0.0, 6.0), _c(6.0))


def logsigmoid(x: Expr) -> Expr:
    # min(x, 0) - log(1 + exp(-|x|)): no overflow for either sign
    return Binary("sub", Binary("min", x, _c(0.0)), Unary("log", _add(_c(1.0), Unary("exp", Unary("neg", Unary("abs", x))))))


def celu(x: Expr, alpha: float) -> Expr:
    negative = _mul(_c(alpha), Binary("sub", Unary("exp", Binary("div", x, _c(alpha))), _c(1.0)))
    return _add(Binary("max", x, _c(0.0)), Binary("min", negative, _c(0.0)))


def softshrink(x: Expr, lambd: float) -> Expr:
    inner = Where(Binary("lt", x, _c(-lambd)), _add(x, _c(lambd)), _c(0.0))
    return Where(Binary("gt", x, _c(lambd)), Binary("sub", x, _c(lambd)), inner)


# name -> (parameters with torch's defaults, builder(x, parameter values))
Builder = Callable[[Expr, dict[str, float]], Expr]
ACTIVATIONS: dict[str, tuple[tuple[tuple[str, float], ...], Builder]] = {
    "elu": ((("alpha", 1.0),), lambda x, p: elu(x, p["alpha"])),
    "selu": ((), lambda x, p: elu(x, SELU_ALPHA, SELU_SCALE)),
    "celu": ((("alpha", 1.0),), lambda x, p: celu(x, p["alpha"])),
    "hardsigmoid": ((), lambda x, p: hardsigmoid(x)),
    "hardtanh": ((("min_val", -1.0), ("max_val", 1.0)), lambda x, p: _clamp(x, p["min_val"], p["max_val"])),
    "relu6": ((), lambda x, p: _clamp(x, 0.0, 6.0)),
    "softplus": ((("beta", 1.0), ("threshold", 20.0)), lambda x, p: softplus(x, p["beta"], p["threshold"])),
    "softsign": ((), lambda x, p: Binary("div", x, _add(_c(1.0), Unary("abs", x)))),
    "mish": ((), lambda x, p: _mul(x, Unary("tanh", softplus(x)))),
    "logsigmoid": ((), lambda x, p: logsigmoid(x)),
    "hardshrink": ((("lambd", 0.5),), lambda x, p: Where(Binary("gt", Unary("abs", x), _c(p["lambd"])), x, _c(0.0))),
    "softshrink": ((("lambd", 0.5),), lambda x, p: softshrink(x, p["lambd"])),
    "tanhshrink": ((), lambda x, p: Binary("sub", x, Unary("tanh", x))),
    "leaky_relu": ((("negative_slope", 0.01),), lambda x, p: Unary("leaky_relu", x, p["negative_slope"])),
    "hardswish": ((), lambda x, p: Unary("hardswish", x)),
    "silu": ((), lambda x, p: Unary("silu", x)),
    "relu": ((), lambda x, p: Unary("relu", x)),
    "sigmoid": ((), lambda x, p: Unary("sigmoid", x)),
    "tanh": ((), lambda x, p: Unary("tanh", x)),
}

ACTIVATION_FUNCS: dict[object, str] = {
    F.elu: "elu", torch.selu: "selu", F.selu: "selu", F.celu: "celu", torch.celu: "celu",
    F.hardsigmoid: "hardsigmoid", F.hardtanh: "hardtanh", F.relu6: "relu6", F.softplus: "softplus",
    F.softsign: "softsign", F.mish: "mish", F.logsigmoid: "logsigmoid", F.hardshrink: "hardshrink",
    F.softshrink: "softshrink", F.tanhshrink: "tanhshrink", F.leaky_relu: "leaky_relu", F.hardswish: "hardswish",
}
ACTIVATION_METHODS = {"hardshrink": "hardshrink"}
ACTIVATION_MODULES: dict[type, str] = {
    nn.ELU: "elu", nn.SELU: "selu", nn.CELU: "celu", nn.Hardsigmoid: "hardsigmoid", nn.Hardtanh: "hardtanh",
    nn.ReLU6: "relu6", nn.Softplus: "softplus", nn.Softsign: "softsign", nn.Mish: "mish", nn.LogSigmoid: "logsigmoid",
    nn.Hardshrink: "hardshrink", nn.Softshrink: "softshrink", nn.Tanhshrink: "tanhshrink", nn.LeakyReLU: "leaky_relu",
    nn.Hardswish: "hardswish", nn.SiLU: "silu", nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
}


def activation(name: str, x: Expr, values: dict[str, float]) -> Expr:
    params, build = ACTIVATIONS[name]
    return build(x, {key: float(values.get(key, default)) for key, default in params})


def module_params(name: str, module: nn.Module) -> dict[str, float]:
    params, _ = ACTIVATIONS[name]
    return {key: float(getattr(module, key)) for key, _ in params if hasattr(module, key)}
