"""torch.fx graph -> MatmulProgram: a matrix product (matmul, mm, bmm, @, einsum in matmul form,
F.linear, nn.Linear) of inputs or parameters, possibly transposed (`.T`, `.t()`, `.mT`,
`transpose`), optionally masked by triu / tril, followed by a pointwise epilogue on its result
that reuses the row lowering's pointwise rules (lower.py)."""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from akg_agents.builtin.ir import Const, InputSpec, Load
from akg_agents.builtin.lower import NO_OPS, Lowerer, NotCovered, Value, _arg, _attr
from akg_agents.builtin.lower_util import output_tensor
from akg_agents.builtin.matmul_ir import Acc, MatmulProgram, uses_acc

MATMUL_FUNCS: dict[Any, str] = {
    torch.matmul: "matmul", operator.matmul: "matmul", torch.mm: "mm", torch.bmm: "bmm", F.linear: "linear",
    torch.einsum: "einsum",
}
MATMUL_METHODS = {"matmul", "mm", "bmm"}
TRIANGLES: dict[Any, str] = {torch.triu: "upper", torch.tril: "lower", "triu": "upper", "tril": "lower"}
FLOAT_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def _is_matmul(module: nn.Module, node: torch.fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(module.get_submodule(str(node.target)), nn.Linear)
    if node.op == "call_function":
        return node.target in MATMUL_FUNCS
    return node.op == "call_method" and node.target in MATMUL_METHODS


def _transposed_source(node: torch.fx.Node) -> torch.fx.Node | None:
    """`x` when `node` swaps the last two dims of x (x.T, x.mT, x.t(), x.transpose(-2, -1) ...)."""
    args: Any = node.args
    if node.op == "call_function" and node.target is getattr and args[1] in ("T", "mT"):
        return args[0] if isinstance(args[0], torch.fx.Node) else None
    is_t = (node.op == "call_method" and node.target == "t") or (node.op == "call_function" and node.target is torch.t)
    if is_t:
        return args[0]
    is_transpose = (node.op == "call_method" and node.target in ("transpose", "swapaxes")) or (
        node.op == "call_function" and node.target in (torch.transpose, torch.swapaxes))
    if is_transpose and len(args) == 3 and isinstance(args[0], torch.fx.Node):
        rank = len(args[0].meta["tensor_meta"].shape)
        dims = {d % rank for d in args[1:] if isinstance(d, int)}
        if dims == {rank - 2, rank - 1}:
            return args[0]
    return None


def _first_compute(module: nn.Module, graph: torch.fx.Graph) -> torch.fx.Node | None:
    """The first op that computes (transposes feeding a product are views, skipped too)."""
    for node in graph.nodes:
        if node.op in ("call_module", "call_function", "call_method"):
            if node.op == "call_method" and node.target in NO_OPS:
                continue
            if _transposed_source(node) is not None and all(_is_matmul(module, u) for u in node.users):
                continue
            return node
    return None


def einsum_form(equation: str, a_rank: int, b_rank: int) -> tuple[bool, bool]:
    """(b_transposed, batched) for an einsum that is one matrix product, else NotCovered:
    `...mk,kn->...mn` (leading dims of a folded), `...mk,nk->...mn`, `bmk,bkn->bmn`."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    parts = lhs.split(",")
    plain = arrow and len(parts) == 2 and "." not in eq and all(len(set(p)) == len(p) for p in (*parts, out))
    if not plain or len(parts[0]) != a_rank or len(parts[1]) != b_rank:
        raise NotCovered(f"einsum {equation!r} is not a matrix product of its two operands")
    sa, sb = parts
    if len(sb) == 2 and len(sa) >= 2:
        k = sa[-1]
        for b_t, order in ((False, sb), (True, sb[::-1])):
            bk, bn = order[0], order[1]
            if bk == k and bn not in sa and out == sa[:-1] + bn:
                return b_t, False
    if len(sa) == len(sb) == 3 and sa[0] == sb[0] and sa[2] == sb[1] and out == sa[:2] + sb[2] and len(set(sa + sb)) == 4:
        return False, True
    raise NotCovered(f"einsum {equation!r} is not one matrix product in a form the built-in generator covers")


class MatmulLowerer(Lowerer):
    """The matmul node becomes Acc(); what follows it is lowered by Lowerer's pointwise rules
    with the product's output as the full shape. Reductions, a second matmul and non-pointwise ops
    are declined."""

    def __init__(self, module: nn.Module, graph: torch.fx.Graph, mm: torch.fx.Node) -> None:
        out_meta = mm.meta["tensor_meta"]
        super().__init__(module, graph, tuple(out_meta.shape))
        self.mm = mm
        self.dtype = out_meta.dtype
        self.a = self.b = -1
        self.a_transposed = self.b_transposed = self.batched = False
        self.K = 0
        self.triangle: tuple[str, int] | None = None
        # operand: the node the product takes -> (its source placeholder / get_attr, transposed)
        self.sources: dict[str, tuple[torch.fx.Node, bool]] = {}
        self.registered: dict[str, int] = {}  # source node name -> input index
        self._find_sources()

    def _product_args(self) -> list[Any]:
        args: Any = self.mm.args
        if self.mm.op == "call_module":
            return [args[0]]
        if self.mm.op == "call_function" and self.mm.target is torch.einsum:
            if len(args) != 3:
                raise NotCovered("einsum of other than two operands")
            return list(args[1:])
        return list(args[:2])

    def _find_sources(self) -> None:
        for arg in self._product_args():
            if not isinstance(arg, torch.fx.Node):
                raise NotCovered("a matmul operand is not a tensor")
            source, transposed = arg, False
            inner = _transposed_source(arg)
            if inner is not None:
                if len(arg.users) > 1:
                    raise NotCovered(f"the transposed operand {arg.name} is also used after the product")
                source, transposed = inner, True
            if source.op not in ("placeholder", "get_attr"):
                raise NotCovered("a matmul operand is computed in the model; only inputs and parameters (or their transposes) are covered")
            if len(source.users) > 1:
                raise NotCovered(f"matmul operand {source.name} is also used elsewhere in the model")
            self.sources[arg.name] = (source, transposed)

    def _add_input(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> Value:
        if dtype != self.dtype:
            raise NotCovered(f"{name} is {dtype} while the matrix product is {self.dtype}; mixed dtypes are not covered")
        kind = self._kind_of(shape, name)
        self.inputs.append(InputSpec(name, kind, tuple(shape)))
        return Load(len(self.inputs) - 1), kind

    def _operand(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> int:
        if dtype != self.dtype:
            raise NotCovered(f"matmul operand {name} is {dtype}, the product {self.dtype}")
        self.inputs.append(InputSpec(name, "full", tuple(shape)))
        return len(self.inputs) - 1

    def _skipped(self, node: torch.fx.Node) -> bool:
        """Nodes this class handles itself: the product, its operand transposes, triu / tril."""
        return node is self.mm or (node.name in self.sources and node not in self._source_nodes()) or self._is_triangle(node)

    def _source_nodes(self) -> list[torch.fx.Node]:
        return [s for s, _ in self.sources.values()]

    def _is_triangle(self, node: torch.fx.Node) -> bool:
        key = node.target if node.op in ("call_function", "call_method") else None
        return key in TRIANGLES and bool(node.args) and node.args[0] is self.mm

    def _first_unknown_op(self) -> str | None:
        for node in self.graph.nodes:
            if node is not self.mm and _is_matmul(self.module, node):
                return "a second matrix product"
        saved, self.graph = self.graph, _without(self.graph, self._skipped)
        try:
            return super()._first_unknown_op()
        finally:
            self.graph = saved

    def _node(self, node: torch.fx.Node) -> Value:
        if node is self.mm:
            return self._matmul(node)
        if node in self._source_nodes():
            if node.op == "placeholder":
                meta = node.meta["tensor_meta"]
                self.registered[node.name] = self._operand(node.name, tuple(meta.shape), meta.dtype)
            else:
                tensor = _attr(self.module, str(node.target))
                self.registered[node.name] = self._operand(f"param:{node.target}", tuple(tensor.shape), tensor.dtype)
            return Const(0.0), "operand"
        if node.name in self.sources:  # the transpose view of an operand
            return Const(0.0), "operand"
        if self._is_triangle(node):
            return self._triangle(node)
        if self.reductions:
            raise NotCovered("a reduction after the matrix product")
        return super()._node(node)

    def _triangle(self, node: torch.fx.Node) -> Value:
        value = self.values[self.mm.name]
        if len(self.mm.users) > 1 or value[0] != Acc():
            raise NotCovered("triu / tril is covered directly on a bias-free product that is used only there")
        diagonal = _arg(node, 1, "diagonal", 0)
        if not isinstance(diagonal, int):
            raise NotCovered("triu / tril with a non-integer diagonal")
        self.triangle = (TRIANGLES[node.target], diagonal)
        self.ops.append(str(node.target if isinstance(node.target, str) else node.target.__name__))
        return value

    def _source_shape(self, arg: Any) -> tuple[tuple[int, ...], bool, int]:
        source, transposed = self.sources[arg.name]
        shape = tuple(source.meta["tensor_meta"].shape) if source.op == "placeholder" else tuple(self.inputs[self.registered[source.name]].shape)
        return shape, transposed, self.registered[source.name]

    def _matmul(self, node: torch.fx.Node) -> Value:
        product = self._product_args()
        a_shape, self.a_transposed, self.a = self._source_shape(product[0])
        bias: Value | None = None
        if node.op == "call_module":
            lin: Any = self.module.get_submodule(str(node.target))
            self.ops.append("Linear")
            self.b = self._operand(f"param:{node.target}.weight", tuple(lin.weight.shape), lin.weight.dtype)
            b_shape, self.b_transposed = tuple(lin.weight.shape), True
            if lin.bias is not None:
                bias = self._add_input(f"param:{node.target}.bias", tuple(lin.bias.shape), lin.bias.dtype)
        else:
            name = MATMUL_FUNCS.get(node.target) if node.op == "call_function" else str(node.target)
            self.ops.append(str(name))
            b_shape, self.b_transposed, self.b = self._source_shape(product[1])
            if name == "linear":
                self.b_transposed = not self.b_transposed
                bias_arg = _arg(node, 2, "bias")
                if bias_arg is not None:
                    bias = self._value(bias_arg)
            elif name == "einsum":
                if self.a_transposed or self.b_transposed:
                    raise NotCovered("einsum of a transposed operand")
                self.b_transposed, self.batched = einsum_form(str(node.args[0]), len(a_shape), len(b_shape))
        self._check_shapes(a_shape, b_shape)
        acc: Any = (Acc(), "full")  # Acc is the matmul IR's leaf (ir.Expr does not list it)
        if bias is not None:
            return self._binary("add", acc, bias)
        return acc

    def _check_shapes(self, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
        """Sets K and `batched`; declines what the kernels do not index (1-D operands, a batch
        broadcast, a transposed operand of rank > 2 outside a batched product)."""
        if len(a_shape) < 2 or len(b_shape) < 2:
            raise NotCovered(f"matrix product of shapes {a_shape} x {b_shape}: 1-D operands are not covered")
        a_log = (*a_shape[:-2], a_shape[-1], a_shape[-2]) if self.a_transposed else a_shape
        b_log = (*b_shape[:-2], b_shape[-1], b_shape[-2]) if self.b_transposed else b_shape
        if len(b_log) == 3 and len(a_log) == 3 and a_log[0] == b_log[0]:
            self.batched = True
        elif len(b_log) != 2 or (self.a_transposed and len(a_log) != 2):
            raise NotCovered(f"matrix product of shapes {a_shape} x {b_shape} (covered: 2-D b, or 3-D x 3-D with one batch size)")
        if a_log[-1] != b_log[-2]:
            raise NotCovered(f"matrix product of shapes {a_shape} x {b_shape}")
        self.K = a_log[-1]

    def _walk(self) -> tuple[Value, tuple[int, ...]]:
        """Every node in order (the row lowering's layout planning is not used: the epilogue's
        inputs are classified against the product's output by _add_input), then the output."""
        for node in self.graph.nodes:
            if node.op == "output":
                arg, shape = output_tensor(node)
                return self.values[arg.name], shape
            self.values[node.name] = self._node(node)
        raise NotCovered("the model has no output")

    def lower_matmul(self) -> MatmulProgram:
        unknown = self._first_unknown_op()
        if unknown is not None:
            raise NotCovered(f"{unknown} after the matrix product (the built-in generator covers a matmul followed by pointwise ops)")
        output, output_shape = self._walk()
        if self.reductions:
            raise NotCovered("a reduction after the matrix product")
        if output[1] != "full" or output_shape != self.full_shape:
            raise NotCovered("the output is not the result of the matrix product")
        if not uses_acc(output[0]):
            raise NotCovered("the output does not depend on the matrix product")
        for i, spec in enumerate(self.inputs):
            if i not in (self.a, self.b) and spec.kind == "row":
                raise NotCovered(f"{spec.name} varies per row; the epilogue takes full, column or scalar inputs")
        if self.dtype not in FLOAT_DTYPES:
            raise NotCovered(f"matrix product in {self.dtype}")
        triangle, diagonal = self.triangle or ("", 0)
        return MatmulProgram(
            self.inputs, self.a, self.b, self.b_transposed, self.rows if not self.batched else self.full_shape[-2],
            self.cols, self.K, FLOAT_DTYPES[self.dtype], output[0], output_shape, self.ops,
            a_transposed=self.a_transposed, batched=self.batched, triangle=triangle, diagonal=diagonal,
        )


def _without(graph: torch.fx.Graph, skip: Any) -> Any:
    """A stand-in graph whose `nodes` omit those `skip` accepts (for the unknown-op scan)."""

    class _Nodes:
        nodes = [n for n in graph.nodes if not skip(n)]

    return _Nodes()


def lower_matmul_model(model: nn.Module, inputs: list[Any]) -> MatmulProgram | None:
    """A MatmulProgram when the model's first compute op is a matrix product; None when it is
    not (the row-program path applies); NotCovered when it is but what follows is out of scope.
    Shapes are propagated on fake tensors: no real product."""
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception:
        return None
    tensors = [v for v in inputs if isinstance(v, torch.Tensor)]
    if len(tensors) != len(inputs):
        return None
    _propagate_shapes(traced, inputs)
    first = _first_compute(traced, traced.graph)
    if first is None or not _is_matmul(traced, first):
        return None
    return MatmulLowerer(traced, traced.graph, first).lower_matmul()


def _propagate_shapes(traced: torch.fx.GraphModule, inputs: list[Any]) -> None:
    try:
        from torch._subclasses.fake_tensor import FakeTensorMode

        mode = FakeTensorMode(allow_non_fake_inputs=True)
        with torch.no_grad():
            ShapeProp(traced, fake_mode=mode).propagate(*[mode.from_tensor(t) for t in inputs])
        return
    except Exception:  # an older torch: run it for real
        pass
    with torch.no_grad():
        ShapeProp(traced).propagate(*inputs)
