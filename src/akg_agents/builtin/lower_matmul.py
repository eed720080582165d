"""torch.fx graph -> MatmulProgram: a matrix product (matmul, mm, @, F.linear, nn.Linear) followed
by a pointwise epilogue on its result, reusing the row lowering's pointwise rules (lower.py)."""

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
from akg_agents.builtin.matmul_ir import Acc, MatmulProgram, uses_acc

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
