"""torch.fx graph -> RowProgram, or a plain statement of why the task is not covered.

The model is traced symbolically and run once on the task's inputs with ShapeProp, so every node
has a shape. Each node becomes an IR expression with a kind (see ir.py). Composite ops
(softmax, layer_norm, gelu, ...) are decomposed here into the primitive expressions and row
reductions the code generators know.
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

from akg_agents.builtin.ir import (
    Binary,
    Const,
    Expr,
    InputSpec,
    Load,
    Reduction,
    RowProgram,
    RowRef,
    Unary,
    join_kinds,
)
from akg_agents.builtin.matmul_ir import Acc, MatmulProgram, uses_acc


class NotCovered(Exception):
    """The task uses something the built-in generator does not implement."""


Value = tuple[Expr, str]  # (expression, kind)

UNARY_FUNCS: dict[Any, str] = {
    torch.relu: "relu", F.relu: "relu", torch.exp: "exp", torch.log: "log", torch.tanh: "tanh",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", torch.erf: "erf", torch.sqrt: "sqrt",
    torch.rsqrt: "rsqrt", torch.abs: "abs", torch.neg: "neg", F.silu: "silu", F.tanh: "tanh",
    F.hardswish: "hardswish", F.softplus: "softplus",
}
UNARY_METHODS = {"relu", "exp", "log", "tanh", "sigmoid", "erf", "sqrt", "rsqrt", "abs", "neg"}
UNARY_MODULES: dict[type, str] = {
    nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid", nn.SiLU: "silu", nn.Hardswish: "hardswish",
}
BINARY_FUNCS: dict[Any, str] = {
    operator.add: "add", torch.add: "add", operator.sub: "sub", torch.sub: "sub", operator.mul: "mul",
    torch.mul: "mul", operator.truediv: "div", torch.div: "div", torch.maximum: "max", torch.minimum: "min",
    operator.pow: "pow", torch.pow: "pow",
}
BINARY_METHODS = {"add": "add", "sub": "sub", "mul": "mul", "div": "div", "pow": "pow"}
REDUCE_FUNCS: dict[Any, str] = {torch.sum: "sum", torch.mean: "mean", torch.amax: "max", torch.amin: "min"}
REDUCE_METHODS = {"sum": "sum", "mean": "mean", "amax": "max", "amin": "min", "max": "max", "min": "min"}
NO_OPS = {"contiguous", "clone", "detach"}


class Lowerer:
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
        if dtype != torch.float32:
            raise NotCovered(f"{name} is {dtype}; the built-in generator handles float32 only")
        kind = self._kind_of(shape, name)
        self.inputs.append(InputSpec(name, kind, tuple(shape)))
        return Load(len(self.inputs) - 1), kind

    # -- node handling -------------------------------------------------------------------------

    def _first_unknown_op(self) -> str | None:
        """Name the first operation the generator has no rule for (a clearer reason than a shape)."""
        for node in self.graph.nodes:
            if node.op == "call_module":
                sub = self.module.get_submodule(str(node.target))
                known_module = type(sub) in UNARY_MODULES or isinstance(
                    sub, (nn.GELU, nn.LeakyReLU, nn.Softmax, nn.LogSoftmax, nn.LayerNorm, nn.Identity, nn.Dropout)
                )
                if not known_module:
                    return f"module {type(sub).__name__}"
            elif node.op in ("call_function", "call_method"):
                target = node.target
                known = (
                    target in UNARY_FUNCS or target in BINARY_FUNCS or target in REDUCE_FUNCS
                    or (node.op == "call_method" and target in UNARY_METHODS | set(BINARY_METHODS) | set(REDUCE_METHODS) | NO_OPS)
                    or self._special(target, node.op) is not None
                )
                if not known:
                    return f"operation {getattr(target, '__name__', target)}"
        return None

    def lower(self) -> RowProgram:
        unknown = self._first_unknown_op()
        if unknown is not None:
            raise NotCovered(f"{unknown} (the built-in generator covers pointwise chains and last-dim row reductions)")
        output: Value | None = None
        output_shape: tuple[int, ...] = ()
        for node in self.graph.nodes:
            if node.op == "output":
                arg = node.args[0]
                if isinstance(arg, (tuple, list)):
                    if len(arg) != 1:
                        raise NotCovered("the model returns several tensors; the built-in generator makes one output")
                    arg = arg[0]
                output = self._value(arg)
                output_shape = tuple(arg.meta["tensor_meta"].shape)
            else:
                self.values[node.name] = self._node(node)
        assert output is not None
        expr, kind = output
        if kind not in ("full", "row"):
            raise NotCovered(f"the output is a {kind} value; expected a full tensor or one value per row")
        return RowProgram(self.inputs, self.reductions, expr, kind, output_shape, self.rows, self.cols, self.ops)

    def _value(self, arg: Any) -> Value:
        if isinstance(arg, torch.fx.Node):
            return self.values[arg.name]
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return Const(float(arg)), "scalar"
        raise NotCovered(f"argument {arg!r} is not a tensor or a number")

    def _node(self, node: torch.fx.Node) -> Value:
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            if meta is None:
                raise NotCovered(f"input {node.name} is not a tensor")
            return self._add_input(node.name, tuple(meta.shape), meta.dtype)
        if node.op == "get_attr":
            tensor = _attr(self.module, str(node.target))
            return self._add_input(f"param:{node.target}", tuple(tensor.shape), tensor.dtype)
        if node.op == "call_module":
            return self._module_call(node)
        if node.op in ("call_function", "call_method"):
            return self._call(node)
        raise NotCovered(f"fx node kind {node.op}")

    def _module_call(self, node: torch.fx.Node) -> Value:
        sub = self.module.get_submodule(str(node.target))
        x = self._value(node.args[0])
        self.ops.append(type(sub).__name__)
        if type(sub) in UNARY_MODULES:
            return _unary(UNARY_MODULES[type(sub)], x)
        if isinstance(sub, nn.GELU):
            return _unary("gelu_tanh" if sub.approximate == "tanh" else "gelu", x)
        if isinstance(sub, nn.LeakyReLU):
            return Unary("leaky_relu", x[0], sub.negative_slope), x[1]
        if isinstance(sub, (nn.Softmax, nn.LogSoftmax)):
            self._require_last_dim(sub.dim, node)
            return self._softmax(x, log=isinstance(sub, nn.LogSoftmax))
        if isinstance(sub, nn.LayerNorm):
            if tuple(sub.normalized_shape) != (self.cols,):
                raise NotCovered("LayerNorm over more than the last dimension")
            weight = self._add_input(f"param:{node.target}.weight", (self.cols,), torch.float32) if sub.weight is not None else None
            bias = self._add_input(f"param:{node.target}.bias", (self.cols,), torch.float32) if sub.bias is not None else None
            return self._layer_norm(x, weight, bias, sub.eps)
        if isinstance(sub, (nn.Identity, nn.Dropout)):
            return x
        raise NotCovered(f"module {type(sub).__name__}")

    def _call(self, node: torch.fx.Node) -> Value:
        target = node.target
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        self.ops.append(str(name))
        args, kwargs = node.args, node.kwargs
        if node.op == "call_method" and target in NO_OPS:
            return self._value(args[0])
        if target in UNARY_FUNCS or (node.op == "call_method" and target in UNARY_METHODS):
            op = UNARY_FUNCS.get(target) if node.op == "call_function" else str(target)
            return _unary(str(op), self._value(args[0]))
        if target in BINARY_FUNCS or (node.op == "call_method" and target in BINARY_METHODS):
            op = BINARY_FUNCS[target] if node.op == "call_function" else BINARY_METHODS[str(target)]
            return self._binary(op, self._value(args[0]), self._value(args[1]), kwargs.get("alpha"))
        handler = self._special(target, node.op)
        if handler is not None:
            return handler(node)
        raise NotCovered(f"operation {name}")

    def _special(self, target: Any, op: str) -> Callable[[torch.fx.Node], Value] | None:
        if target in (F.gelu,) or (op == "call_method" and target == "gelu"):
            return lambda n: _unary("gelu_tanh" if n.kwargs.get("approximate") == "tanh" else "gelu", self._value(n.args[0]))
        if target is F.leaky_relu:
            return lambda n: self._leaky(n)
        if target in (torch.clamp, torch.clip) or (op == "call_method" and target in ("clamp", "clip")):
            return self._clamp
        if target in (torch.softmax, F.softmax, torch.log_softmax, F.log_softmax) or (
            op == "call_method" and target in ("softmax", "log_softmax")
        ):
            return self._softmax_node
        if target is F.layer_norm:
            return self._layer_norm_node
        if target in REDUCE_FUNCS or (op == "call_method" and target in REDUCE_METHODS):
            return self._reduce_node
        if (op == "call_method" and target in ("view", "reshape")) or target in (torch.reshape,):
            return self._reshape
        return None

    # -- composite ops -------------------------------------------------------------------------

    def _binary(self, op: str, a: Value, b: Value, alpha: Any = None) -> Value:
        if alpha is not None:
            b = (Binary("mul", b[0], Const(float(alpha))), b[1])
        if op == "pow" and b[1] == "scalar" and isinstance(b[0], Const) and b[0].value == 2.0:
            return Binary("mul", a[0], a[0]), a[1]
        return Binary(op, a[0], b[0]), join_kinds(a[1], b[1])

    def _leaky(self, node: torch.fx.Node) -> Value:
        slope = _arg(node, 1, "negative_slope", 0.01)
        x = self._value(node.args[0])
        return Unary("leaky_relu", x[0], float(slope)), x[1]

    def _clamp(self, node: torch.fx.Node) -> Value:
        x = self._value(node.args[0])
        low = _arg(node, 1, "min")
        high = _arg(node, 2, "max")
        expr = x[0]
        if low is not None:
            expr = Binary("max", expr, Const(float(low)))
        if high is not None:
            expr = Binary("min", expr, Const(float(high)))
        return expr, x[1]

    def _require_last_dim(self, dim: Any, node: torch.fx.Node) -> None:
        rank = len(node.args[0].meta["tensor_meta"].shape) if isinstance(node.args[0], torch.fx.Node) else 0
        if dim is None or int(dim) not in (-1, rank - 1):
            raise NotCovered(f"{node.target} over dim={dim}; the built-in generator reduces over the last dim only")

    def _softmax_node(self, node: torch.fx.Node) -> Value:
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        self._require_last_dim(dim, node)
        name = node.target if isinstance(node.target, str) else node.target.__name__
        return self._softmax(self._value(node.args[0]), log="log" in name)

    def _softmax(self, x: Value, log: bool) -> Value:
        self._require_full(x, "softmax")
        m = self._reduce("max", x[0])
        shifted = Binary("sub", x[0], m)
        s = self._reduce("sum", Unary("exp", shifted))
        if log:
            return Binary("sub", shifted, Unary("log", s)), "full"
        return Binary("div", Unary("exp", shifted), s), "full"

    def _layer_norm_node(self, node: torch.fx.Node) -> Value:
        shape = _arg(node, 1, "normalized_shape")
        if tuple(shape) != (self.cols,):
            raise NotCovered("layer_norm over more than the last dimension")
        weight = _arg(node, 2, "weight")
        bias = _arg(node, 3, "bias")
        eps = _arg(node, 4, "eps", 1e-5)
        w = self._value(weight) if weight is not None else None
        b = self._value(bias) if bias is not None else None
        return self._layer_norm(self._value(node.args[0]), w, b, float(eps))

    def _layer_norm(self, x: Value, weight: Value | None, bias: Value | None, eps: float) -> Value:
        self._require_full(x, "layer_norm")
        inv_n = Const(1.0 / self.cols)
        mean = Binary("mul", self._reduce("sum", x[0]), inv_n)
        centered = Binary("sub", x[0], mean)
        var = Binary("mul", self._reduce("sum", Binary("mul", centered, centered)), inv_n)
        out: Expr = Binary("mul", centered, Unary("rsqrt", Binary("add", var, Const(eps))))
        if weight is not None:
            out = Binary("mul", out, weight[0])
        if bias is not None:
            out = Binary("add", out, bias[0])
        return out, "full"

    def _reduce_node(self, node: torch.fx.Node) -> Value:
        name = node.target if isinstance(node.target, str) else node.target.__name__
        op = REDUCE_METHODS.get(name) or REDUCE_FUNCS[node.target]
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
        if isinstance(dim, (list, tuple)) and len(dim) == 1:
            dim = dim[0]
        if dim is None or isinstance(dim, (list, tuple)):
            raise NotCovered(f"{name} over all or several dimensions; only the last dim is covered")
        self._require_last_dim(dim, node)
        x = self._value(node.args[0])
        self._require_full(x, name)
        if name in ("max", "min") and isinstance(node.meta.get("tensor_meta"), tuple):
            raise NotCovered(f"{name}(dim) returning (values, indices)")
        reduced = self._reduce("sum" if op == "mean" else op, x[0])
        if op == "mean":
            return Binary("mul", reduced, Const(1.0 / self.cols)), "row"
        return reduced, "row"

    def _reshape(self, node: torch.fx.Node) -> Value:
        x = self._value(node.args[0])
        source = tuple(_arg(node, 0, "input").meta["tensor_meta"].shape)
        target = tuple(node.meta["tensor_meta"].shape)
        if source[-1:] != target[-1:] and not (x[1] == "row" and target[-1:] == (1,)):
            raise NotCovered(f"reshape {source} -> {target} changes the last dimension")
        return x

    def _reduce(self, op: str, body: Expr) -> RowRef:
        self.reductions.append(Reduction(op, body))
        return RowRef(len(self.reductions) - 1)

    def _require_full(self, x: Value, what: str) -> None:
        if x[1] != "full":
            raise NotCovered(f"{what} of a {x[1]} value")


def _arg(node: torch.fx.Node, index: int, key: str, default: Any = None) -> Any:
    """An fx argument by position or keyword (fx types them as a wide union; we check values)."""
    args: Any = node.args
    return args[index] if len(args) > index else node.kwargs.get(key, default)


def _unary(op: str, x: Value) -> Value:
    return Unary(op, x[0]), x[1]


def _attr(module: nn.Module, target: str) -> torch.Tensor:
    value: Any = module
    for part in target.split("."):
        value = getattr(value, part)
    if not isinstance(value, torch.Tensor):
        raise NotCovered(f"attribute {target} is not a tensor")
    return value


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
    return Lowerer(traced, traced.graph, full_shape).lower()


# -- matrix products with a fused epilogue (matmul_ir.py) --------------------------------------

MATMUL_FUNCS: dict[Any, str] = {torch.matmul: "matmul", operator.matmul: "matmul", torch.mm: "mm", F.linear: "linear"}
MATMUL_METHODS = {"matmul", "mm"}
FLOAT_DTYPES = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}


def _is_matmul(module: nn.Module, node: torch.fx.Node) -> bool:
    if node.op == "call_module":
        return isinstance(module.get_submodule(str(node.target)), nn.Linear)
    if node.op == "call_function":
        return node.target in MATMUL_FUNCS
    return node.op == "call_method" and node.target in MATMUL_METHODS


def _first_compute(module: nn.Module, graph: torch.fx.Graph) -> torch.fx.Node | None:
    for node in graph.nodes:
        if node.op in ("call_module", "call_function", "call_method"):
            if node.op == "call_method" and node.target in NO_OPS:
                continue
            return node
    return None


class MatmulLowerer(Lowerer):
    """The matmul node becomes Acc(); what follows it is lowered by Lowerer's pointwise rules
    with the (M, N) output as the full shape. Reductions, a second matmul and non-pointwise ops
    are declined."""

    def __init__(self, module: nn.Module, graph: torch.fx.Graph, mm: torch.fx.Node) -> None:
        out_meta = mm.meta["tensor_meta"]
        super().__init__(module, graph, tuple(out_meta.shape))
        self.mm = mm
        self.dtype = out_meta.dtype
        self.operands: dict[str, int] = {}  # operand node name -> input index
        self.a = self.b = -1
        self.b_transposed = False
        self.K = 0

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

    def _first_unknown_op(self) -> str | None:
        for node in self.graph.nodes:
            if node is not self.mm and _is_matmul(self.module, node):
                return "a second matrix product"
        saved, self.graph = self.graph, _without(self.graph, self.mm)
        try:
            return super()._first_unknown_op()
        finally:
            self.graph = saved

    def _node(self, node: torch.fx.Node) -> Value:
        if node is self.mm:
            return self._matmul(node)
        if node.name in self._operand_names():
            if len(node.users) > 1:
                raise NotCovered(f"matmul operand {node.name} is also used after the product")
            if node.op == "placeholder":
                meta = node.meta["tensor_meta"]
                self.operands[node.name] = self._operand(node.name, tuple(meta.shape), meta.dtype)
            else:
                tensor = _attr(self.module, str(node.target))
                self.operands[node.name] = self._operand(f"param:{node.target}", tuple(tensor.shape), tensor.dtype)
            return Const(0.0), "operand"
        if self.reductions:
            raise NotCovered("a reduction after the matrix product")
        return super()._node(node)

    def _operand_names(self) -> set[str]:
        names = set()
        if self.mm.op != "call_module":
            for arg in self.mm.args[:2]:
                if not isinstance(arg, torch.fx.Node) or arg.op not in ("placeholder", "get_attr"):
                    raise NotCovered("a matmul operand is computed in the model; only inputs and parameters are covered")
                names.add(arg.name)
        else:
            arg = self.mm.args[0]
            if not isinstance(arg, torch.fx.Node) or arg.op != "placeholder":
                raise NotCovered("the Linear input is computed in the model; only forward inputs are covered")
            names.add(arg.name)
        return names

    def _matmul(self, node: torch.fx.Node) -> Value:
        args: Any = node.args
        a_shape = tuple(args[0].meta["tensor_meta"].shape)
        self.a = self.operands[args[0].name]
        bias: Value | None = None
        if node.op == "call_module":
            lin: Any = self.module.get_submodule(str(node.target))
            self.ops.append("Linear")
            self.b = self._operand(f"param:{node.target}.weight", tuple(lin.weight.shape), lin.weight.dtype)
            self.b_transposed = True
            if lin.bias is not None:
                bias = self._add_input(f"param:{node.target}.bias", tuple(lin.bias.shape), lin.bias.dtype)
        else:
            name = MATMUL_FUNCS.get(node.target) if node.op == "call_function" else str(node.target)
            self.ops.append(str(name))
            self.b = self.operands[args[1].name]
            b_shape = tuple(args[1].meta["tensor_meta"].shape)
            if name == "linear":
                self.b_transposed = True
                bias_arg = _arg(node, 2, "bias")
                if bias_arg is not None:
                    bias = self._value(bias_arg)
            elif len(a_shape) != 2 or len(b_shape) != 2:
                raise NotCovered(f"{name} of shapes {a_shape} x {b_shape}; only 2-D matrix products are covered")
        self.K = a_shape[-1]
        b_shape = self.inputs[self.b].shape
        if len(b_shape) != 2 or (b_shape[1] if self.b_transposed else b_shape[0]) != self.K:
            raise NotCovered(f"matrix product of shapes {a_shape} x {b_shape}")
        acc: Any = (Acc(), "full")  # Acc is the matmul IR's leaf (ir.Expr does not list it)
        if bias is not None:
            return self._binary("add", acc, bias)
        return acc

    def lower_matmul(self) -> MatmulProgram:
        unknown = self._first_unknown_op()
        if unknown is not None:
            raise NotCovered(f"{unknown} after the matrix product (the built-in generator covers a matmul followed by pointwise ops)")
        row = self.lower()
        if row.reductions:
            raise NotCovered("a reduction after the matrix product")
        if row.output_kind != "full" or tuple(row.output_shape) != self.full_shape:
            raise NotCovered("the output is not the (M, N) result of the matrix product")
        if not uses_acc(row.output):
            raise NotCovered("the output does not depend on the matrix product")
        for i, spec in enumerate(self.inputs):
            if i not in (self.a, self.b) and spec.kind == "row":
                raise NotCovered(f"{spec.name} varies per row; the epilogue takes full, column or scalar inputs")
        if self.dtype not in FLOAT_DTYPES:
            raise NotCovered(f"matrix product in {self.dtype}")
        return MatmulProgram(
            self.inputs, self.a, self.b, self.b_transposed, self.rows, self.cols, self.K,
            FLOAT_DTYPES[self.dtype], row.output, tuple(row.output_shape), self.ops,
        )


def _without(graph: torch.fx.Graph, skip: torch.fx.Node) -> Any:
    """A stand-in graph whose `nodes` omit `skip` (for the unknown-op scan)."""

    class _Nodes:
        nodes = [n for n in graph.nodes if n is not skip]

    return _Nodes()


def lower_matmul_model(model: nn.Module, inputs: list[Any]) -> MatmulProgram | None:
    """A MatmulProgram when the model's first compute op is a matrix product (matmul, mm, @,
    F.linear, nn.Linear); None when it is not (the row-program path applies); NotCovered when it
    is but what follows is out of scope. Shapes are propagated on fake tensors: no real product."""
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception:
        return None
    first = _first_compute(traced, traced.graph)
    if first is None or not _is_matmul(traced, first):
        return None
    tensors = [v for v in inputs if isinstance(v, torch.Tensor)]
    if len(tensors) != len(inputs):
        raise NotCovered("forward takes non-tensor inputs")
    _propagate_shapes(traced, inputs)
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
