"""The C text of the row IR's expressions (ir.Expr), shared by the row kernels and the loop nests.

Unary and binary operations map onto akg_math.h's helpers (bundled with this package) and C
operators; comparisons become 1.0f / 0.0f, as PyTorch's bool-to-float promotion does."""

from __future__ import annotations

from importlib import resources

from akg_agents.builtin.ir import COMPARISONS, Binary, ColIndex, Const, Expr, Load, RowRef, Size, Unary, Where

UNARY_C = {
    "relu": "({a} < 0.0f ? 0.0f : {a})",
    "exp": "akg_exp({a})",
    "log": "logf({a})",
    "tanh": "akg_tanh({a})",
    "sigmoid": "akg_sigmoid({a})",
    "erf": "akg_erf({a})",
    "sqrt": "sqrtf({a})",
    "rsqrt": "(1.0f / sqrtf({a}))",
    "abs": "fabsf({a})",
    "neg": "(-{a})",
    "gelu": "akg_gelu({a})",
    "gelu_tanh": "akg_gelu_tanh({a})",
    "silu": "({a} * akg_sigmoid({a}))",
    "hardswish": "akg_hardswish({a})",
    "softplus": "akg_softplus({a})",
    "leaky_relu": "({a} < 0.0f ? {a} * {p}f : {a})",
}
BINARY_C = {
    "add": "({a} + {b})",
    "sub": "({a} - {b})",
    "mul": "({a} * {b})",
    "div": "({a} / {b})",
    "max": "({a} < {b} ? {b} : {a})",
    "min": "({b} < {a} ? {b} : {a})",
    "pow": "powf({a}, {b})",
}
COMPARE_C = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==", "ne": "!="}


def math_prelude() -> str:
    return resources.files("akg_agents.builtin").joinpath("akg_math.h").read_text()


def c_float(value: float) -> str:
    if value != value:
        return "NAN"
    if value in (float("inf"), float("-inf")):
        return "INFINITY" if value > 0 else "-INFINITY"
    return f"{value!r}f" if "e" in repr(value) or "." in repr(value) else f"{value!r}.0f"


def _condition(expr: Expr, load: dict[int, str]) -> str:
    if isinstance(expr, Binary) and expr.op in COMPARISONS:
        return f"({expr_c(expr.a, load)} {COMPARE_C[expr.op]} {expr_c(expr.b, load)})"
    return f"({expr_c(expr, load)} != 0.0f)"


def expr_c(expr: Expr, load: dict[int, str]) -> str:
    if isinstance(expr, Load):
        return load[expr.input]
    if isinstance(expr, Const):
        return c_float(expr.value)
    if isinstance(expr, RowRef):
        return f"((float)r{expr.index})"
    if isinstance(expr, Size):
        return f"((float){expr.name})"
    if isinstance(expr, ColIndex):
        return "((float)j)"
    if isinstance(expr, Where):
        return f"({_condition(expr.cond, load)} ? {expr_c(expr.a, load)} : {expr_c(expr.b, load)})"
    if isinstance(expr, Unary):
        return UNARY_C[expr.op].format(a=expr_c(expr.a, load), p=repr(expr.param))
    if isinstance(expr, Binary):
        if expr.op in COMPARISONS:
            return f"({_condition(expr, load)} ? 1.0f : 0.0f)"
        return BINARY_C[expr.op].format(a=expr_c(expr.a, load), b=expr_c(expr.b, load))
    raise TypeError(expr)
