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
            name = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            raise NotCovered(f"{name} over dim={dim}; the built-in generator reduces over the last dim only")

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
