"""torch.fx graph -> RowProgram, or a plain statement of why the task is not covered.

The model is traced symbolically and run once on the task's inputs with ShapeProp, so every node
has a shape. A first pass finds the dims the model reduces (all its reductions must reduce the
same dims of the widest, "full", tensor) and groups the full tensor's dims into rows and columns
(layout.py). Each node then becomes an IR expression with a kind (see ir.py). Composite ops
(activations: activations.py; softmax, norms, reductions, losses, scans: lower_reduce.py) are
decomposed into the primitive expressions and row reductions the code generators know.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from akg_agents.builtin.activations import (
    ACTIVATION_FUNCS,
    ACTIVATION_METHODS,
    ACTIVATION_MODULES,
    activation,
    module_params,
)
from akg_agents.builtin.ir import (
    COMPARISONS,
    Binary,
    Const,
    Expr,
    InputSpec,
    Load,
    NotCovered,
    Reduction,
    RowProgram,
    RowRef,
    Unary,
    join_kinds,
)
from akg_agents.builtin.layout import (
    LayoutError,
    aligned_shape,
    build_layout,
    group_varies,
    kind_of,
    varies_along,
)
from akg_agents.builtin.lower_reduce import ReduceRules, Value, arg_of, attr_of, op_name
from akg_agents.builtin.lower_util import is_reshape, output_tensor, reshaped_input_alignments

_SPECIAL = {"pair": "max / min with a dim: only [0] and [1] of it are covered",
            "final": "a loss or mean over per-row values: it must be the output",
            "scan": "a cumulative op: it must be the output", "scan-flipped": "a cumulative op on a flip",
            "flipped": "a flip: only a cumulative op may use it"}
__all__ = ["NO_OPS", "Lowerer", "NotCovered", "Value", "_arg", "_attr", "lower_model"]
_arg = arg_of
_attr = attr_of

UNARY_FUNCS: dict[Any, str] = {
    torch.relu: "relu", F.relu: "relu", torch.exp: "exp", torch.log: "log", torch.tanh: "tanh",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.erf: "erf", torch.sqrt: "sqrt",
    torch.rsqrt: "rsqrt", torch.abs: "abs", torch.neg: "neg", F.silu: "silu", F.tanh: "tanh",
}
UNARY_METHODS = {"relu", "exp", "log", "tanh", "sigmoid", "erf", "sqrt", "rsqrt", "abs", "neg"}
BINARY_FUNCS: dict[Any, str] = {
    operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub", operator.mul: "mul",
    torch.mul: "mul", operator.truediv: "div", torch.div: "div", torch.maximum: "max", torch.minimum: "min",
    operator.pow: "pow", torch.pow: "pow", operator.lt: "lt", operator.le: "le", operator.gt: "gt",
    operator.ge: "ge", torch.lt: "lt", torch.gt: "gt", torch.le: "le", torch.ge: "ge",
}
BINARY_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "pow": "pow"}
NO_OPS = {"contiguous", "clone", "detach", "float"}


def _widens(node: torch.fx.Node) -> bool:
    """`x.float()` of a float16 / bfloat16 tensor is a cast to float32, not a no-op: the kernels
    write the inputs' dtype, so it is left without a rule (declined) rather than dropped."""
    source = node.args[0] if node.args else None
    meta = source.meta.get("tensor_meta") if isinstance(source, torch.fx.Node) else None
    return node.target == "float" and (meta is None or getattr(meta, "dtype", None) != torch.float32)


class Lowerer(ReduceRules):
    def __init__(self, module: nn.Module, graph: torch.fx.Graph, full_shape: tuple[int, ...]) -> None:
        self.module = module
        self.graph = graph
        self.full_shape = full_shape
        self.cols = full_shape[-1] if full_shape else 1
        self.rows = math.prod(full_shape[:-1]) if len(full_shape) > 1 else 1
        self.inputs: list[InputSpec] = []
        self.reductions: list[Reduction] = []
        self.values: dict[str, Value] = {}
        self.ops: list[str] = []
        self.layout = None
        self.reduced: set[int] = set()
        self.scan = None
        self.final = ""
        self.final_weight = None
        self.training_only = False
        self.aligned: dict[str, tuple[int, ...]] = {}  # input name -> shape as it broadcasts
        self.pairs: dict[str, tuple[str, Expr]] = {}  # max/min(dim) nodes -> (op, body)
        self.flips: set[str] = set()
        self.view_groups = 0
        self.source_shape: tuple[int, ...] = ()
        self.viewed: list[str] = []

    def view_as_groups(self, groups: set[int]) -> None:
        """GroupNorm normalizes (N, C, *rest) per (sample, group of channels): viewed as
        (N, groups, C / groups, prod(rest)) it is a reduction over the two trailing dims."""
        if len(groups) > 1 or len(self.full_shape) < 2:
            raise NotCovered("GroupNorm layers with different group counts, or on a rank-1 tensor")
        count = groups.pop()
        n, c, *rest = self.full_shape
        self.view_groups, self.source_shape = count, self.full_shape
        self.full_shape = (n, count, c // count, math.prod(rest))

    # -- classification ------------------------------------------------------------------------

    def _kind_of(self, shape: tuple[int, ...], what: str) -> str:
        if math.prod(shape) == 1:
            return "scalar"
        full = self.full_shape
        if shape == full:
            return "full"
        if len(shape) <= len(full):
            padded = (1,) * (len(full) - len(shape)) + tuple(shape)
            if padded[-1] == self.cols and all(d == 1 for d in padded[:-1]):
                return "col"
            if padded[-1] == 1 and padded[:-1] == full[:-1]:
                return "row"
        raise NotCovered(f"{what} has shape {tuple(shape)}, which does not broadcast as a row, column or full tensor of {tuple(full)}")

    def _add_input(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> Value:
        if self.layout is None:  # the last-dim view (kept for the matmul lowering's epilogues)
            if dtype != torch.float32:
                raise NotCovered(f"{name} is {dtype}; the built-in generator handles float32 only")
            kind = self._kind_of(shape, name)
            self.inputs.append(InputSpec(name, kind, tuple(shape)))
            return Load(len(self.inputs) - 1), kind
        aligned = self.aligned.get(name) or aligned_shape(shape, len(self.full_shape))
        try:
            varies = group_varies(self.layout, varies_along(aligned, self.full_shape))
        except LayoutError as why:
            raise NotCovered(f"{name.removeprefix('param:')}: {why}") from None
        category = "bool" if dtype == torch.bool else ("float" if dtype.is_floating_point else "int")
        if dtype.is_complex:
            raise NotCovered(f"{name} is complex")
        kind = kind_of(varies, self.layout)
        self.inputs.append(InputSpec(name, kind, tuple(aligned), varies, category))
        return Load(len(self.inputs) - 1), kind

    # -- the first pass: dims reduced, layout ----------------------------------------------------

    def _plan_layout(self) -> None:
        dims: set[int] | None = None
        for node in self.graph.nodes:
            found = self.reduction_dims(node)
            if found is None:
                continue
            if dims is not None and found != dims:
                raise NotCovered(f"reductions over different dims ({sorted(dims)} and {sorted(found)}) in one model")
            dims = found
        self.reduced = dims or set()
        patterns = []
        for name, shape in self._tensor_shapes():
            try:
                patterns.append(varies_along(self.aligned.get(name) or aligned_shape(shape, len(self.full_shape)), self.full_shape))
            except LayoutError as why:
                raise NotCovered(f"{name.removeprefix('param:')}: {why}") from None
        try:
            self.layout = build_layout(self.full_shape, self.reduced, patterns)
        except LayoutError as why:
            raise NotCovered(f"the tensor dims do not fit the row program: {why}") from None
        self.cols = math.prod(self.full_shape[d] for d in self.layout.reduced)
        self.rows = math.prod(self.full_shape) // max(self.cols, 1)

    def _tensor_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        shapes = []
        for node in self.graph.nodes:
            if node.op == "placeholder" and node.meta.get("tensor_meta") is not None:
                shapes.append((node.name, self.viewed_shape(node.name, tuple(node.meta["tensor_meta"].shape))))
            elif node.op == "get_attr":
                shapes.append((f"param:{node.target}", tuple(_attr(self.module, str(node.target)).shape)))
        shapes += self.module_tensor_shapes()
        return shapes

    def viewed_shape(self, name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        """An input of the original full shape takes the GroupNorm view (the launcher reshapes it)."""
        if not self.view_groups or shape != self.source_shape:
            return shape
        if name not in self.viewed:
            self.viewed.append(name)
        return self.full_shape

    # -- node handling -------------------------------------------------------------------------

    def _handler(self, node: torch.fx.Node) -> Callable[[torch.fx.Node], Value] | None:
        target, op = node.target, node.op
        if op == "call_module":
            return self._module_handler(self.module.get_submodule(str(target)))
        if op not in ("call_function", "call_method"):
            return None
        if op == "call_method" and target in NO_OPS and not _widens(node):
            return lambda n: self._value(n.args[0])
        if target in UNARY_FUNCS or (op == "call_method" and target in UNARY_METHODS):
            return lambda n: _unary(UNARY_FUNCS.get(n.target) or str(n.target), self._value(n.args[0]))
        if target in BINARY_FUNCS or (op == "call_method" and target in BINARY_METHODS):
            return self._binary_node
        if target in ACTIVATION_FUNCS or (op == "call_method" and target in ACTIVATION_METHODS):
            return self._activation_node
        if target is F.gelu or (op == "call_method" and target == "gelu"):
            return lambda n: _unary("gelu_tanh" if n.kwargs.get("approximate") == "tanh" else "gelu", self._value(n.args[0]))
        if target in (torch.clamp, torch.clip) or (op == "call_method" and target in ("clamp", "clip")):
            return self._clamp
        if is_reshape(node):
            return self._reshape
        if target is operator.getitem:
            return self.getitem
        return self.reduce_handler(node)

    def _module_handler(self, sub: nn.Module) -> Callable[[torch.fx.Node], Value] | None:
        if type(sub) in ACTIVATION_MODULES:
            name = ACTIVATION_MODULES[type(sub)]
            return lambda n: (activation(name, self._value(n.args[0])[0], module_params(name, sub)), self._value(n.args[0])[1])
        if isinstance(sub, nn.GELU):
            return lambda n: _unary("gelu_tanh" if sub.approximate == "tanh" else "gelu", self._value(n.args[0]))
        if isinstance(sub, nn.Identity) or (isinstance(sub, nn.Dropout) and sub.p == 0.0):
            return lambda n: self._value(n.args[0])
        return self.module_reduce_handler(sub)

    def _first_unknown_op(self) -> str | None:
        """Name the first operation the generator has no rule for (a clearer reason than a shape)."""
        for node in self.graph.nodes:
            if node.op in ("call_module", "call_function", "call_method") and self._handler(node) is None:
                if node.op == "call_module":
                    return f"module {type(self.module.get_submodule(str(node.target))).__name__}"
                return f"operation {op_name(node)}"
        return None

    def lower(self) -> RowProgram:
        unknown = self._first_unknown_op()
        if unknown is not None:
            raise NotCovered(f"{unknown} (the built-in generator covers pointwise chains, reductions, norms, softmax, scans and losses)")
        self.aligned.update(reshaped_input_alignments(self.graph, len(self.full_shape)))
        self._plan_layout()
        output: Value | None = None
        output_shape: tuple[int, ...] = ()
        for node in self.graph.nodes:
            if node.op == "output":
                arg, output_shape = output_tensor(node)
                output = self.values[arg.name]
            else:
                self.values[node.name] = self._node(node)
        assert output is not None
        return self.program(output, output_shape)

    def _value(self, arg: Any) -> Value:
        if isinstance(arg, torch.fx.Node):
            value = self.values[arg.name]
            if value[1] not in ("full", "row", "col", "scalar", "operand"):
                raise NotCovered(f"an operation on the result of {arg.name} ({_SPECIAL.get(value[1], 'a part of an exclusive cumsum')})")
            return value
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return Const(float(arg)), "scalar"
        raise NotCovered(f"argument {arg!r} is not a tensor or a number")

    def _node(self, node: torch.fx.Node) -> Value:
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            if meta is None or not hasattr(meta, "shape"):
                raise NotCovered(f"input {node.name} is not a tensor")
            return self._add_input(node.name, self.viewed_shape(node.name, tuple(meta.shape)), meta.dtype)
        if node.op == "get_attr":
            tensor = _attr(self.module, str(node.target))
            return self._add_input(f"param:{node.target}", tuple(tensor.shape), tensor.dtype)
        handler = self._handler(node)
        if handler is None:
            raise NotCovered(f"operation {op_name(node)}")
        self.ops.append(type(self.module.get_submodule(str(node.target))).__name__ if node.op == "call_module" else op_name(node))
        return handler(node)

    # -- pointwise -------------------------------------------------------------------------------

    def _binary_node(self, node: torch.fx.Node) -> Value:
        op = BINARY_FUNCS[node.target] if node.op == "call_function" else BINARY_METHODS[str(node.target)]
        if any(isinstance(a, torch.fx.Node) and self.values[a.name][1] == "size" for a in node.args[:2]):
            return Const(0.0), "length"  # x.size(d) - 1: a narrow's length (lower_scan.py checks it)
        self.check_row_broadcast(node.args[:2])
        return self._binary(op, self._value(node.args[0]), self._value(node.args[1]), node.kwargs.get("alpha"))

    def _binary(self, op: str, a: Value, b: Value, alpha: Any = None) -> Value:
        if alpha is not None:
            b = (Binary("mul", b[0], Const(float(alpha))), b[1])
        if op == "pow" and b[1] == "scalar" and isinstance(b[0], Const) and b[0].value in (2.0, 3.0):
            cube = b[0].value == 3.0
            square = Binary("mul", a[0], a[0])
            return (Binary("mul", square, a[0]) if cube else square), a[1]
        if op in COMPARISONS and self.layout is None:
            raise NotCovered(f"comparison {op} in a matmul epilogue")
        return Binary(op, a[0], b[0]), join_kinds(a[1], b[1])

    def _activation_node(self, node: torch.fx.Node) -> Value:
        name = ACTIVATION_FUNCS.get(node.target) or ACTIVATION_METHODS[str(node.target)]
        x = self._value(node.args[0])
        from akg_agents.builtin.activations import ACTIVATIONS

        values = {key: _arg(node, i + 1, key, default) for i, (key, default) in enumerate(ACTIVATIONS[name][0])}
        return activation(name, x[0], values), x[1]

    def _clamp(self, node: torch.fx.Node) -> Value:
        x = self._value(node.args[0])
        expr = x[0]
        for index, key, op in ((1, "min", "max"), (2, "max", "min")):
            bound = _arg(node, index, key)
            if isinstance(bound, torch.fx.Node):
                raise NotCovered("clamp with a tensor bound")
            if bound is not None:
                expr = Binary(op, expr, Const(float(bound)))
        return expr, x[1]

    def _reshape(self, node: torch.fx.Node) -> Value:
        """Only reshapes that keep the value's layout: adding or removing size-1 dims."""
        if isinstance(node.args[0], torch.fx.Node) and self.values[node.args[0].name][1] == "slice":
            return self.values[node.args[0].name]  # x.select(d, 0).unsqueeze(d) of an exclusive cumsum
        x = self._value(node.args[0])
        source = [d for d in _arg(node, 0, "input").meta["tensor_meta"].shape if d != 1]
        target = [d for d in node.meta["tensor_meta"].shape if d != 1]
        if source != target:
            raise NotCovered(f"{op_name(node)} from {tuple(source)} to {tuple(target)} (only adding or removing size-1 dims is covered)")
        return x

    def _reduce(self, op: str, body: Expr) -> RowRef:
        self.reductions.append(Reduction(op, body))
        return RowRef(len(self.reductions) - 1)

    # what the reduction rules (lower_reduce.py, lower_loss.py) use
    def value_of(self, arg: Any) -> Value:
        return self._value(arg)

    def reduce(self, op: str, body: Expr) -> RowRef:
        return self._reduce(op, body)

    def add_input(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> Value:
        return self._add_input(name, shape, dtype)

    def combine(self, op: str, a: Value, b: Value) -> Value:
        return self._binary(op, a, b)

    def graph_nodes(self) -> list[torch.fx.Node]:
        return list(self.graph.nodes)

    def ops_list(self) -> list[str]:
        return self.ops

    def _require_full(self, x: Value, what: str) -> None:
        if x[1] != "full":
            raise NotCovered(f"{what} of a {x[1]} value")


def _unary(op: str, x: Value) -> Value:
    return Unary(op, x[0]), x[1]


def lower_model(model: nn.Module, inputs: list[Any]) -> RowProgram:
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:
        raise NotCovered(f"torch.fx cannot trace the model ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})") from None
    tensors = [v for v in inputs if isinstance(v, torch.Tensor)]
    if len(tensors) != len(inputs):
        raise NotCovered("forward takes non-tensor inputs")
    with torch.no_grad():
        ShapeProp(traced).propagate(*inputs)
    shapes = [tuple(t.shape) for t in tensors] + [tuple(p.shape) for p in model.parameters()]
    full_shape = max(shapes, key=lambda s: (math.prod(s), len(s)))
    lowerer = Lowerer(traced, traced.graph, full_shape)
    groups = {m.num_groups for m in traced.modules() if isinstance(m, nn.GroupNorm)}
    if groups:
        lowerer.view_as_groups(groups)
    return lowerer.lower()
