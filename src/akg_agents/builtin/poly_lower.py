"""torch.fx graph -> a PolyTOPS loop nest (poly.dsl.Kernel) for products and their epilogues.

Covers what the row lowering (lower.py) declines because it is a loop nest with a reduction over
something other than the last dim: matrix products (matmul, mm, bmm, @, nn.Linear, F.linear, with
broadcast batch dims), convolutions (nn.Conv1d/2d/3d, F.conv1d/2d/3d: stride, padding, dilation,
groups) and chains of them joined by pointwise ops (an MLP block: linear -> gelu -> linear +
residual). Every product writes its own array with an init statement (bias or zero) and an
accumulation statement; pointwise ops stay expressions until a product reads them or the graph
returns them, and are then written once, in place into the product's array when nothing else
reads that array (see `_inplace_home`). Sizes are the task's concrete shapes: the kernel has no
parameters, so isl generates loops with constant bounds.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from akg_agents.builtin.ir import InputSpec
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.lower_util import arg_of, attr_of
from akg_agents.builtin.poly_conv import lower_conv, lower_conv_transpose
from akg_agents.builtin.poly_pointwise import (
    BINARY_FUNCS,
    BINARY_METHODS,
    NO_OPS,
    UNARY_FUNCS,
    UNARY_METHODS,
    PointwiseError,
    Value,
    access,
    binary,
    constant,
    module_op,
    unary,
)
from akg_agents.poly.dsl import Kernel

MATMUL_FUNCS: dict[Any, str] = {operator.matmul: "matmul", torch.matmul: "matmul", torch.mm: "mm", torch.bmm: "bmm", F.linear: "linear"}
MATMUL_METHODS = {"matmul", "mm", "bmm"}
CONV_FUNCS: dict[Any, int] = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}
CONV_MODULES: dict[type, int] = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}
CONV_TRANSPOSE_MODULES: dict[type, int] = {nn.ConvTranspose1d: 1, nn.ConvTranspose2d: 2, nn.ConvTranspose3d: 3}


class NoProduct(NotCovered):
    """The graph has no matrix product or convolution: the loop-nest lowering does not apply."""


@dataclass
class PolyProgram:
    """The loop nest plus how its arrays bind to ModelNew's tensors."""

    kernel: Kernel
    inputs: list[InputSpec]  # forward inputs and parameters, as generator.model_new_source wants
    input_arrays: list[str]  # DSL array of inputs[i]
    output_array: str
    output_shape: tuple[int, ...]
    scratch: list[tuple[str, tuple[int, ...]]]  # arrays ModelNew allocates per call
    ops: list[str] = field(default_factory=list)
    output_kind: str = "full"
    reductions: tuple = ()
    dtype: str = "float32"  # the task's tensors' dtype; the kernel computes in float32 whatever it is


TRANSPOSE_METHODS = ("t", "transpose", "swapaxes")
# fp16 / bf16 tasks (KernelBench's precision option): ModelNew widens the tensors to float32, the
# loop nest computes and accumulates in float32, and the result is narrowed back once.
HALF_OR_SINGLE = (torch.float32, torch.float16, torch.bfloat16)
PACK_MIN_ROWS = 8  # below this many rows a linear layer reads W directly (the copy would dominate)


class PolyLowerer:
    def __init__(self, module: nn.Module, graph: torch.fx.Graph, pack: bool = True) -> None:
        self.module = module
        self.pack = pack  # transpose linear weights, zero-pad convolution inputs (scratch arrays)
        self.graph = graph
        self.kernel = Kernel("task", [], {"TASK": {}})
        self.kernel.context_min = 0
        self.inputs: list[InputSpec] = []
        self.input_arrays: list[str] = []
        self.scratch: list[tuple[str, tuple[int, ...]]] = []
        self.values: dict[str, Value] = {}
        self.ops: list[str] = []
        self.products = 0
        self.dtype: torch.dtype | None = None  # every tensor of the task has this one float dtype

    # -- arrays ---------------------------------------------------------------------------------

    def _input(self, name: str, tensor_shape: tuple[int, ...], dtype: torch.dtype) -> Value:
        if dtype not in HALF_OR_SINGLE:
            raise NotCovered(f"{name} is {dtype}; the loop-nest lowering handles float32, float16 and bfloat16")
        if self.dtype not in (None, dtype):
            raise NotCovered(f"{name} is {dtype} beside {self.dtype} tensors (one dtype per loop nest)")
        self.dtype = dtype
        array = f"X{len(self.inputs)}"
        self.kernel.array(array, [str(max(n, 1)) for n in tensor_shape] or ["1"], output=False)
        self.inputs.append(InputSpec(name, "full", tuple(tensor_shape)))
        self.input_arrays.append(array)
        return self._array_value(array, tensor_shape)

    def _new_array(self, shape: tuple[int, ...]) -> str:
        name = f"T{len(self.scratch)}"
        self.kernel.array(name, [str(n) for n in shape] or ["1"])
        self.scratch.append((name, shape))
        return name

    @staticmethod
    def _array_value(array: str, shape: tuple[int, ...], home: bool = False, node: str = "") -> Value:
        return Value(shape, lambda idx: access(array, shape, idx), array,
                     array if home else None, frozenset({node}) if node else frozenset())

    # -- graph walk -----------------------------------------------------------------------------

    def _is_product(self, node: torch.fx.Node) -> bool:
        if node.op == "call_module":
            return isinstance(self.module.get_submodule(str(node.target)), (nn.Linear, *CONV_MODULES, *CONV_TRANSPOSE_MODULES))
        if node.op == "call_method":
            return node.target in MATMUL_METHODS
        return node.op == "call_function" and (node.target in MATMUL_FUNCS or node.target in CONV_FUNCS
                                               or node.target is torch.einsum)

    def lower(self) -> PolyProgram:
        if not any(self._is_product(node) for node in self.graph.nodes):
            raise NoProduct("no matrix product or convolution")
        for node in self.graph.nodes:
            if node.op == "output":
                arg = node.args[0]
                if isinstance(arg, (tuple, list)):
                    if len(arg) != 1:
                        raise NotCovered("the model returns several tensors")
                    arg = arg[0]
                if not isinstance(arg, torch.fx.Node):
                    raise NotCovered("the model returns a constant")
                result = self._materialize(arg, force_write=True)
                break
            self.values[node.name] = self._node(node)
        out_shape = tuple(arg.meta["tensor_meta"].shape)
        scratch = [(n, s) for n, s in self.scratch if n != result]
        dtype = str(self.dtype or torch.float32).removeprefix("torch.")
        if arg.meta["tensor_meta"].dtype != (self.dtype or torch.float32):
            raise NotCovered(f"the result is {arg.meta['tensor_meta'].dtype}, the inputs {dtype}")
        return PolyProgram(self.kernel, self.inputs, self.input_arrays, result, out_shape, scratch, self.ops, dtype=dtype)

    def _node(self, node: torch.fx.Node) -> Value:
        meta = node.meta.get("tensor_meta")
        if node.op == "placeholder":
            if meta is None:
                raise NotCovered(f"input {node.name} is not a tensor")
            return self._input(node.name, tuple(meta.shape), meta.dtype)
        if node.op == "get_attr":
            tensor = attr_of(self.module, str(node.target))
            return self._input(f"param:{node.target}", tuple(tensor.shape), tensor.dtype)
        if node.op == "call_module":
            return self._module(node)
        if node.op in ("call_function", "call_method"):
            return self._call(node)
        raise NotCovered(f"fx node kind {node.op}")

    def _value(self, arg: Any) -> Value:
        if isinstance(arg, torch.fx.Node):
            return self.values[arg.name]
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return constant(float(arg))
        raise NotCovered(f"argument {arg!r} is not a tensor or a number")

    def _module(self, node: torch.fx.Node) -> Value:
        sub = self.module.get_submodule(str(node.target))
        self.ops.append(type(sub).__name__)
        if isinstance(sub, nn.Linear):
            bias = self._param(f"{node.target}.bias", sub.bias)
            return self._linear(node, node.args[0], self._param(f"{node.target}.weight", sub.weight), bias)
        if type(sub) in CONV_MODULES:
            conv: Any = sub
            if conv.padding_mode != "zeros":
                raise NotCovered(f"convolution with padding_mode={conv.padding_mode!r}")
            return self._conv(node, node.args[0], self._param(f"{node.target}.weight", conv.weight),
                              self._param(f"{node.target}.bias", conv.bias), conv.stride, conv.padding,
                              conv.dilation, conv.groups)
        if type(sub) in CONV_TRANSPOSE_MODULES:
            tconv: Any = sub
            if tconv.padding_mode != "zeros" or len(node.args) != 1 or node.kwargs:
                raise NotCovered(f"{type(sub).__name__} with padding_mode={tconv.padding_mode!r} or an output_size")
            return lower_conv_transpose(self, node, node.args[0], self._param(f"{node.target}.weight", tconv.weight),
                                        self._param(f"{node.target}.bias", tconv.bias), tconv.stride, tconv.padding,
                                        tconv.dilation, tconv.groups)
        x = self._value(node.args[0])
        if isinstance(sub, (nn.Identity, nn.Dropout)):
            return x
        op = module_op(sub)
        if op is not None:
            return self._unary(op[0], x, node, op[1])
        raise NotCovered(f"module {type(sub).__name__}")

    def _param(self, name: str, tensor: torch.Tensor | None) -> Value | None:
        if tensor is None:
            return None
        return self._input(f"param:{name}", tuple(tensor.shape), tensor.dtype)

    def _call(self, node: torch.fx.Node) -> Value:
        target, args = node.target, node.args
        name = target if isinstance(target, str) else getattr(target, "__name__", str(target))
        self.ops.append(str(name))
        method = node.op == "call_method"
        if method and target in NO_OPS:
            return self._value(args[0])
        if target in MATMUL_FUNCS or (method and target in MATMUL_METHODS):
            if target is F.linear:
                bias = arg_of(node, 2, "bias")
                return self._linear(node, args[0], self._value(args[1]), None if bias is None else self._value(bias))
            return self._matmul(node, args[0], args[1])
        if target in CONV_FUNCS:
            bias = arg_of(node, 2, "bias")
            return self._conv(node, args[0], self._value(args[1]), None if bias is None else self._value(bias),
                              arg_of(node, 3, "stride", 1), arg_of(node, 4, "padding", 0), arg_of(node, 5, "dilation", 1),
                              arg_of(node, 6, "groups", 1))
        if target in UNARY_FUNCS or (method and target in UNARY_METHODS):
            op = UNARY_FUNCS.get(target) if not method else str(target)
            return self._unary(str(op), self._value(args[0]), node)
        if target in BINARY_FUNCS or (method and target in BINARY_METHODS):
            op = BINARY_FUNCS[target] if not method else BINARY_METHODS[str(target)]
            b = self._value(args[1])
            alpha: Any = node.kwargs.get("alpha")
            if alpha is not None:
                b = self._combine("mul", b, self._value(float(alpha)), node)
            return self._combine(op, self._value(args[0]), b, node)
        if target is F.gelu or (method and target == "gelu"):
            tanh = node.kwargs.get("approximate") == "tanh"
            return self._unary("gelu_tanh" if tanh else "gelu", self._value(args[0]), node)
        if target is F.leaky_relu:
            return self._unary("leaky_relu", self._value(args[0]), node, float(arg_of(node, 1, "negative_slope", 0.01)))
        if target in (torch.clamp, torch.clip) or (method and target in ("clamp", "clip")):
            return self._clamp(node)
        if target is torch.einsum:
            return self._einsum(node)
        if target in (torch.triu, torch.tril) or (method and target in ("triu", "tril")):
            return self._triangle(node, upper=target in (torch.triu, "triu"))
        if (target is getattr and len(args) == 2 and args[1] in ("T", "mT")) or (method and target in TRANSPOSE_METHODS) \
                or target in (torch.transpose, torch.t, torch.swapaxes):
            return self._transpose(node)
        raise NotCovered(f"operation {name} (the loop-nest lowering covers products, convolutions and pointwise ops)")

    def _einsum(self, node: torch.fx.Node) -> Value:
        """torch.einsum of two operands with plain letters ("bijl,lk->bijk"): one product
        statement, out[output letters] += a[its letters] * b[its letters] over the summed letters."""
        equation, operands = node.args[0], list(node.args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
        if not isinstance(equation, str) or "->" not in equation or "." in equation or len(operands) != 2:
            raise NotCovered("an einsum other than two operands with an explicit '->' and no '...'")
        inputs, output = equation.replace(" ", "").split("->")
        terms = inputs.split(",")
        arrays = [self._operand(arg) for arg in operands]
        if len(terms) != 2 or any(len(set(t)) != len(t) or len(t) != len(shape) for t, (_, shape) in zip(terms, arrays, strict=True)) \
                or len(set(output)) != len(output) or not set(output) <= set("".join(terms)):
            raise NotCovered(f"einsum {equation!r} (a letter repeated in one operand, or a shape that does not match it)")
        extent = {c: n for t, (_, shape) in zip(terms, arrays, strict=True) for c, n in zip(t, shape, strict=True)}
        summed = [c for c in dict.fromkeys("".join(terms)) if c not in output]
        var = {c: f"o{d}" for d, c in enumerate(output)} | {c: f"r{d}" for d, c in enumerate(summed)}
        increment = " * ".join(f"{array}{''.join(f'[{var[c]}]' for c in t)}" for t, (array, _) in zip(terms, arrays, strict=True))
        out_vars = [var[c] for c in output]
        loops = [*((var[c], extent[c]) for c in output[:-1]), *((var[c], extent[c]) for c in summed)]
        if output:
            loops.append((var[output[-1]], extent[output[-1]]))
        return self._product(node, lambda i: "0.0f", loops, "".join(f"[{v}]" for v in out_vars) or "[0]", increment)

    def _triangle(self, node: torch.fx.Node, upper: bool) -> Value:
        """torch.triu / tril over the last two dims: x where col - row >= diagonal (triu) or
        <= diagonal (tril), else 0 (a condition on the consumer's indices)."""
        x = self._value(node.args[0])
        diagonal = arg_of(node, 1, "diagonal", 0)
        if len(x.shape) < 2 or not isinstance(diagonal, int):
            raise NotCovered(f"{'triu' if upper else 'tril'} of a {len(x.shape)}-D tensor or with a computed diagonal")

        def text(idx: list[str]) -> str:
            row, col = idx[-2], idx[-1]
            keep = f"({col} - {row} >= {diagonal})" if upper else f"({col} - {row} <= {diagonal})"
            return f"({keep} ? ({x.text(idx)}) : 0.0f)"

        return Value(x.shape, text, None, x.home, x.nodes | {node.name})

    def _transpose(self, node: torch.fx.Node) -> Value:
        """`x.T`, `x.mT`, `x.t()`, `x.transpose(d0, d1)`: a view whose text reads x at the swapped
        indices (a product operand materializes it once: an M*K copy against M*N*K products)."""
        x = self._value(node.args[0])
        rank = len(x.shape)
        if node.target is getattr and node.args[1] == "T" and rank > 2:
            raise NotCovered("x.T of a tensor of more than 2 dims (reverses every dim)")
        if node.target is getattr or node.target in ("t", torch.t):
            dims = (rank - 2, rank - 1) if rank >= 2 else (0, 0)
        else:
            d0, d1 = arg_of(node, 1, "dim0"), arg_of(node, 2, "dim1")
            if not isinstance(d0, int) or not isinstance(d1, int):
                raise NotCovered("a transpose whose dims are not numbers")
            dims = (d0 % max(rank, 1), d1 % max(rank, 1))
        perm = list(range(rank))
        perm[dims[0]], perm[dims[1]] = perm[dims[1]], perm[dims[0]]
        shape = tuple(x.shape[p] for p in perm)

        def text(idx: list[str]) -> str:
            tail = idx[len(idx) - rank:]
            return x.text([tail[perm[k]] for k in range(rank)])

        return Value(shape, text, None, None, x.nodes | {node.name})

    # -- pointwise ------------------------------------------------------------------------------

    def _unary(self, op: str, x: Value, node: torch.fx.Node, param: float = 0.0) -> Value:
        try:
            return unary(op, x, node.name, param)
        except PointwiseError as exc:
            raise NotCovered(str(exc)) from None

    def _combine(self, op: str, a: Value, b: Value, node: torch.fx.Node) -> Value:
        try:
            return binary(op, a, b, node.name)
        except PointwiseError as exc:
            raise NotCovered(str(exc)) from None

    def _clamp(self, node: torch.fx.Node) -> Value:
        x = self._value(node.args[0])
        for op, bound in (("max", arg_of(node, 1, "min")), ("min", arg_of(node, 2, "max"))):
            if bound is not None:
                x = self._combine(op, x, self._value(float(bound)), node)
        return x

    def _materialize(self, arg: torch.fx.Node, force_write: bool = False) -> str:
        """The array holding `arg`'s value, writing it (once) when it is still an expression."""
        value = self.values[arg.name]
        if value.array is not None and not (force_write and value.array.startswith("X")):
            return value.array
        target = self._inplace_home(value, arg) or self._new_array(value.shape)
        idx = [f"o{d}" for d in range(len(value.shape))]
        self._stmt_over(value.shape, f"{access(target, value.shape, idx)} = {value.text(idx)}")
        self.values[arg.name] = self._array_value(target, value.shape)
        return target

    def _inplace_home(self, value: Value, arg: torch.fx.Node) -> str | None:
        """The product array `value` (the value of `arg`) may overwrite: every fx node folded into
        it (the product's node included), other than `arg` itself, is read only inside the
        expression; `arg`'s later readers read the written array."""
        if value.home is None:
            return None
        names = set(value.nodes)
        for node in self.graph.nodes:
            if node.name in names and node is not arg and any(u.name not in names for u in node.users):
                return None
        return value.home

    def _stmt_over(self, shape: tuple[int, ...], body: str, where: str | None = None) -> None:
        loops = [self.kernel.loop(f"o{d}", 0, n) for d, n in enumerate(shape)]
        for lp in loops:
            lp.__enter__()
        self.kernel.stmt(body, where)
        for lp in reversed(loops):
            lp.__exit__(None, None, None)

    def _operand(self, arg: Any) -> tuple[str, tuple[int, ...]]:
        if not isinstance(arg, torch.fx.Node):
            raise NotCovered("a product of a constant")
        array = self._materialize(arg)
        return array, self.values[arg.name].shape

    # -- products -------------------------------------------------------------------------------

    def _product(self, node: torch.fx.Node, init: Callable[[list[str]], str], loops: list[tuple[str, int]],
                 write: str, increment: str, where: str | None = None) -> Value:
        """out = init over the output; then, over `loops` (reduction loops named r*): out[write] += increment."""
        shape = tuple(node.meta["tensor_meta"].shape)
        if node.meta["tensor_meta"].dtype not in HALF_OR_SINGLE:
            raise NotCovered(f"a product whose result is {node.meta['tensor_meta'].dtype}")
        out = self._new_array(shape)
        idx = [f"o{d}" for d in range(len(shape))]
        self._stmt_over(shape, f"{access(out, shape, idx)} = {init(idx)}")
        opened = []
        for var, extent in loops:
            # a reduction loop is never an OpenMP loop; the last loop given (stride 1 on the output)
            # is the one the post-pass keeps innermost in a tile for vectorization (post.py)
            hint = "reduce" if var.startswith("r") else "vector" if (var, extent) == loops[-1] else None
            opened.append(self.kernel.loop(var, 0, extent, hint=hint))
            opened[-1].__enter__()
        self.kernel.stmt(f"{out}{write} += {increment}", where)
        for lp in reversed(opened):
            lp.__exit__(None, None, None)
        self.products += 1
        return self._array_value(out, shape, home=True, node=node.name)

    def _linear(self, node: torch.fx.Node, x_arg: Any, weight: Value | None, bias: Value | None) -> Value:
        x, x_shape = self._operand(x_arg)
        if weight is None or weight.array is None or len(weight.shape) != 2:
            raise NotCovered("a linear layer whose weight is not a 2-D input or parameter")
        n_out, k = weight.shape
        out_shape = tuple(node.meta["tensor_meta"].shape)
        if out_shape[-1] != n_out or x_shape[-1] != k:
            raise NotCovered(f"a linear layer of {x_shape} with a {weight.shape} weight")
        rank = len(out_shape)
        idx = [f"o{d}" for d in range(rank)]
        init = (lambda i: bias.text(i)) if bias is not None else (lambda i: "0.0f")
        write = "".join(f"[{i}]" for i in idx)
        if self.pack and math.prod(out_shape[:-1]) >= PACK_MIN_ROWS:
            # W^T (K, N) once, then i, k, j with stride-1 rows of W^T and out innermost: the copy
            # is N*K moves against M*N*K multiply-adds
            packed = self._new_array((k, n_out))
            self._stmt_over((k, n_out), f"{packed}[o0][o1] = {weight.array}[o1][o0]")
            increment = f"{access(x, x_shape, [*idx[:-1], 'r0'])} * {packed}[r0][o{rank - 1}]"
            loops = [*zip(idx[:-1], out_shape[:-1], strict=True), ("r0", k), (idx[-1], n_out)]
            return self._product(node, init, loops, write, increment)
        increment = f"{access(x, x_shape, [*idx[:-1], 'r0'])} * {weight.array}[o{rank - 1}][r0]"
        loops = [*zip(idx, out_shape, strict=True), ("r0", k)]  # a dot product per output element
        return self._product(node, init, loops, write, increment)

    def _matmul(self, node: torch.fx.Node, a_arg: Any, b_arg: Any) -> Value:
        a, a_shape = self._operand(a_arg)
        b, b_shape = self._operand(b_arg)
        if len(a_shape) < 2 or len(b_shape) < 2:
            raise NotCovered(f"a matrix-vector product of shapes {a_shape} x {b_shape}")
        out_shape = tuple(node.meta["tensor_meta"].shape)
        rank = len(out_shape)
        batch = [f"o{d}" for d in range(rank - 2)]
        m, n = f"o{rank - 2}", f"o{rank - 1}"
        increment = f"{access(a, a_shape, [*batch, m, 'r0'])} * {access(b, b_shape, [*batch, 'r0', n])}"
        idx = [f"o{d}" for d in range(rank)]
        # i, k, j: the innermost loop walks b's and out's rows with stride 1
        loops = [*zip(idx[:-1], out_shape[:-1], strict=True), ("r0", a_shape[-1]), (n, out_shape[-1])]
        return self._product(node, lambda i: "0.0f", loops, "".join(f"[{i}]" for i in idx), increment)

    def _conv(self, node: torch.fx.Node, x_arg: Any, weight: Value | None, bias: Value | None,
              stride: Any, padding: Any, dilation: Any, groups: int) -> Value:
        return lower_conv(self, node, x_arg, weight, bias, stride, padding, dilation, groups)


def lower_poly_model(model: nn.Module, inputs: list[Any], pack: bool = True) -> PolyProgram:
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:
        raise NotCovered(f"torch.fx cannot trace the model ({type(exc).__name__})") from None
    if any(not isinstance(v, torch.Tensor) for v in inputs):
        raise NotCovered("forward takes non-tensor inputs")
    with torch.no_grad():
        ShapeProp(traced).propagate(*inputs)
    program = PolyLowerer(traced, traced.graph, pack).lower()
    if math.prod(program.output_shape) == 0:
        raise NotCovered("an empty output")
    return program
