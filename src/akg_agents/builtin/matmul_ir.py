"""The built-in generator's second IR: a *matmul program* (a matrix product with a fused epilogue).

    out[m, n] = epilogue(acc[m, n], extra inputs)      acc = sum_k a[m, k] * b[k, n]

`a` is (M, K) (the leading dims of a rank > 2 `a` times a 2-D `b` are folded into M), or (K, M)
when `a_transposed` (`A.T @ B`); `b` is (K, N), or (N, K) when `b_transposed` (nn.Linear /
F.linear weights, `A @ B.T`). With `batched`, both are 3-D with one leading batch dim (bmm).
`triangle` ("upper" / "lower", with `diagonal` as torch.triu / tril take it) zeroes the
accumulator outside the triangle before the epilogue: `triu(A @ B)`. The epilogue is an ir.py expression in which
`Acc()` stands for the fp32 accumulator; its other leaves are `Load(i)` of extra inputs whose
kind (ir.py) is relative to the (M, N) output: full (an (M, N) residual), col (an (N,) bias) or
scalar. Products accumulate in float32 whatever the input dtype; the result is stored in `dtype`.

`inputs` follows RowProgram's convention (forward argument names, or "param:<qualified name>"),
so generator.launch_args / generator.model_new_source work on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from akg_agents.builtin.ir import Binary, Const, Expr, InputSpec, Load, Unary


@dataclass(frozen=True)
class Acc:
    """The fp32 accumulator tile of the matrix product."""


ACC_INPUT = -1  # Acc as a Load index, for code generators that print Load(i) by a name table


@dataclass
class MatmulProgram:
    inputs: list[InputSpec]
    a: int  # index into inputs
    b: int
    b_transposed: bool
    M: int
    N: int
    K: int
    dtype: str  # float32 | float16 | bfloat16: a, b, the extra inputs and the output
    epilogue: Expr  # over Acc and Load(i) of the extra inputs
    output_shape: tuple[int, ...]
    ops: list[str] = field(default_factory=list)
    a_transposed: bool = False
    batched: bool = False
    triangle: str = ""  # "" | upper | lower
    diagonal: int = 0

    # RowProgram-compatible facts for the shared ModelNew template
    output_kind: str = "full"
    reductions: tuple = ()

    @property
    def extras(self) -> list[int]:
        return [i for i in range(len(self.inputs)) if i not in (self.a, self.b)]


def acc_as_load(expr: Expr | Acc) -> Expr:
    """The epilogue with Acc replaced by Load(ACC_INPUT) (so ir.py printers can print it)."""
    if isinstance(expr, Acc):
        return Load(ACC_INPUT)
    if isinstance(expr, Unary):
        return Unary(expr.op, acc_as_load(expr.a), expr.param)
    if isinstance(expr, Binary):
        return Binary(expr.op, acc_as_load(expr.a), acc_as_load(expr.b))
    return expr


def uses_acc(expr: Expr | Acc) -> bool:
    if isinstance(expr, Acc):
        return True
    if isinstance(expr, Unary):
        return uses_acc(expr.a)
    if isinstance(expr, Binary):
        return uses_acc(expr.a) or uses_acc(expr.b)
    return False


__all__ = ["ACC_INPUT", "Acc", "Const", "MatmulProgram", "acc_as_load", "uses_acc"]
