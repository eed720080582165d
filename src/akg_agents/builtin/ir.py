"""The built-in generator's IR: a *row program*.

Every tensor the program touches is viewed as a matrix [rows, cols] where cols is the last
dimension of the task's widest tensor. Values have a *kind* saying how they vary:

    full    one value per element           x[i, j]
    row     one value per row               a reduction over j, or a (rows, 1) tensor
    col     one value per column            a bias or norm weight of shape (cols,)
    scalar  one value                       a constant or a 1-element tensor

A program is an ordered list of row reductions (each over an expression of full values and
earlier reductions) and one output expression. That one shape covers fused pointwise chains
(no reductions), sum/mean/max/min over the last dim, softmax, log_softmax, layernorm and
rmsnorm, and it maps onto a loop per row with stride-1 inner loops on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = ("scalar", "col", "row", "full")


def join_kinds(a: str, b: str) -> str:
    """Kind of an elementwise combination: row x col -> full, anything x scalar -> the other."""
    if a == b:
        return a
    if "scalar" in (a, b):
        return b if a == "scalar" else a
    return "full"


@dataclass(frozen=True)
class Load:
    input: int  # index into RowProgram.inputs


@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Unary:
    op: str  # relu, exp, log, tanh, sigmoid, erf, sqrt, rsqrt, abs, neg, gelu, gelu_tanh, silu, ...
    a: Expr
    param: float = 0.0  # leaky_relu slope, clamp bound ...


@dataclass(frozen=True)
class Binary:
    op: str  # add, sub, mul, div, max, min, pow
    a: Expr
    b: Expr


@dataclass(frozen=True)
class RowRef:
    """The value of reduction number `index` for the current row."""

    index: int


Expr = Load | Const | Unary | Binary | RowRef


@dataclass(frozen=True)
class Reduction:
    op: str  # sum | max | min
    body: Expr


@dataclass(frozen=True)
class InputSpec:
    name: str  # forward argument name, or "param:<qualified name>" for parameters and buffers
    kind: str  # full | row | col | scalar
    shape: tuple[int, ...]


@dataclass
class RowProgram:
    inputs: list[InputSpec]
    reductions: list[Reduction]
    output: Expr
    output_kind: str  # full | row
    output_shape: tuple[int, ...]
    rows: int
    cols: int
    ops: list[str] = field(default_factory=list)  # the torch ops it implements, for reports

    @property
    def is_pointwise(self) -> bool:
        return not self.reductions and self.output_kind == "full"

    @property
    def flat(self) -> bool:
        """Pure elementwise over full/scalar inputs: a flat loop needs no row structure."""
        return self.is_pointwise and all(spec.kind in ("full", "scalar") for spec in self.inputs)
