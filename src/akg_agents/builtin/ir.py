"""The built-in generator's IR: a *row program*.

Every tensor the program touches is viewed as a matrix [rows, cols]: cols enumerates the
reduced dims of the task's widest ("full") tensor, rows its kept dims (for a pointwise program the
trailing dims play the reduced part). The `Layout` says which dims are which: the full tensor's
dims, in memory order, fall into at most four groups -- row-outer, row-inner, col-outer,
col-inner -- so a row index r splits into (r // RI, r % RI) and a column index j into
(j // CI, j % CI), and every tensor's address is a sum of those four indices times strides. That
covers reductions over the last dims (the common case: one row group, one col group), over a
middle dim (row-outer, col, row-inner), over the batch and spatial dims around a channel dim
(BatchNorm: col-outer, row-inner, col-inner) and over all dims. Values have a *kind*:

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


class NotCovered(Exception):
    """The task uses something the built-in generator does not implement (a one-line reason)."""


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


@dataclass(frozen=True)
class Size:
    """A runtime extent as a float: "cols" (the reduced extent, for a mean) or "rows"."""

    name: str


@dataclass(frozen=True)
class ColIndex:
    """The current column index j as a float (a gather along the reduced dim compares it)."""


@dataclass(frozen=True)
class Where:
    """`a` where `cond` is non-zero, else `b` (cond is a comparison: 1.0 or 0.0)."""

    cond: Expr
    a: Expr
    b: Expr


Expr = Load | Const | Unary | Binary | RowRef | Size | ColIndex | Where

COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")  # Binary ops that give 1.0 or 0.0
INDEX_REDUCTIONS = ("argmax", "argmin")  # their value is a column index (int64 when output)


@dataclass(frozen=True)
class Reduction:
    op: str  # sum | max | min | prod | argmax | argmin
    body: Expr


@dataclass(frozen=True)
class Scan:
    """The output is a running `op` (sum | prod) of `body` along the columns of each row."""

    op: str
    body: Expr
    reverse: bool = False
    exclusive: bool = False


@dataclass(frozen=True)
class Layout:
    """Full-tensor dims (in memory order) grouped as row-outer, row-inner, col-outer, col-inner.

    Each group is a run of consecutive dims; ro comes before ri and co before ci in memory, so the
    kept dims enumerate rows in row-major order (a reduced output of the kept shape is indexed by
    r) and the reduced dims enumerate columns in row-major order. `order` lists the groups (0..3)
    that hold dims, in memory order."""

    rank: int
    groups: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    @property
    def order(self) -> list[int]:
        return sorted((g for g in range(4) if self.groups[g]), key=lambda g: self.groups[g][0])

    @property
    def simple(self) -> bool:
        """Rows then columns in memory (reduce the trailing dims): r * cols + j addresses it."""
        return not self.groups[1] and not self.groups[2] and (not self.groups[0] or not self.groups[3]
                                                            or self.groups[0][-1] < self.groups[3][0])

    @property
    def reduced(self) -> tuple[int, ...]:
        return self.groups[2] + self.groups[3]


@dataclass(frozen=True)
class InputSpec:
    name: str  # forward argument name, or "param:<qualified name>" for parameters and buffers
    kind: str  # full | row | col | scalar
    shape: tuple[int, ...]
    # which layout groups (ro, ri, co, ci) the tensor varies along (None: `kind` says it, the
    # last-dim view); a group it does not vary along is broadcast (size 1 in the tensor)
    varies: tuple[bool, bool, bool, bool] | None = None
    dtype: str = "float"  # float | int | bool: loaded and converted to float32 in the kernel


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
    layout: Layout | None = None  # None: the last-dim view (pointwise programs of one shape)
    out_dims: tuple[int | None, ...] = ()  # output dim -> full dim whose size it takes (None: 1)
    scan: Scan | None = None  # set: the output is this running op (output_kind "full")
    # "sum" | "mean": the output is that reduction over all rows of the row values `output`;
    # a mean divides by the sum over rows of `final_weight` when set (CrossEntropy's ignore_index)
    final: str = ""
    final_weight: Expr | None = None
    training_only: bool = False  # BatchNorm with batch statistics: the module's training mode
    constants: str = ""  # repr of the Model's plain attributes when traced (rowwrap.constants_of)
    reshaped: tuple[str, ...] = ()  # inputs aligned on other dims than torch's trailing ones
    # GroupNorm: the full tensor (N, C, *rest) is viewed as (N, groups, C / groups, prod(rest));
    # `viewed` names the inputs of the original full shape, `source_rank` its rank
    view_groups: int = 0
    viewed: tuple[str, ...] = ()
    source_rank: int = 0

    @property
    def is_pointwise(self) -> bool:
        return not self.reductions and self.output_kind == "full"

    @property
    def flat(self) -> bool:
        """Pure elementwise over full/scalar inputs: a flat loop needs no row structure."""
        return self.is_pointwise and self.scan is None and all(spec.kind in ("full", "scalar") for spec in self.inputs)
