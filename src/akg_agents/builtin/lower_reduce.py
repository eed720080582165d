"""Row reductions, softmax, norms and scans, lowered onto a Lowerer (lower.py) as a mixin.

Every rule here reduces over the columns of the layout: `reduction_dims` tells the first pass
which dims a node reduces, so that the layout puts exactly those dims in the columns. Losses and
nested reductions (a mean over rows of per-row values) are in lower_loss.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from akg_agents.builtin.ir import (
    Binary,
    Const,
    Expr,
    InputSpec,
    Layout,
    NotCovered,
    Reduction,
    RowProgram,
    RowRef,
    Scan,
    Size,
    Unary,
)
from akg_agents.builtin.lower_loss import LossRules
from akg_agents.builtin.lower_scan import SCAN_MARK, SCAN_OPS, ScanRules
from akg_agents.builtin.lower_util import arg_of, attr_of, dims_of, key_of, op_name, shape_of

Value = tuple[Expr, str]  # (expression, kind)
Handler = Callable[[torch.fx.Node], Value]

REDUCE_OPS: dict[Any, str] = {
    torch.sum: "sum", torch.mean: "mean", torch.amax: "max", torch.amin: "min", torch.prod: "prod",
    torch.max: "max", torch.min: "min", torch.argmax: "argmax", torch.argmin: "argmin",
    torch.logsumexp: "logsumexp", torch.norm: "norm", torch.linalg.norm: "norm", torch.linalg.vector_norm: "norm",
    "sum": "sum", "mean": "mean", "amax": "max", "amin": "min", "prod": "prod", "max": "max", "min": "min",
    "argmax": "argmax", "argmin": "argmin", "logsumexp": "logsumexp", "norm": "norm",
}
SOFTMAX_OPS: dict[Any, bool] = {torch.softmax: False, F.softmax: False, torch.log_softmax: True, F.log_softmax: True,
                                "softmax": False, "log_softmax": True}


class ReduceRules(LossRules, ScanRules):
    module: nn.Module
    full_shape: tuple[int, ...]
    reduced: set[int]
    layout: Layout | None
    inputs: list[InputSpec]
    reductions: list[Reduction]
    scan: Scan | None
    final: str
    final_weight: Expr | None
    training_only: bool
    aligned: dict[str, tuple[int, ...]]
    values: dict[str, Value]
    pairs: dict[str, tuple[str, Expr]]
    flips: set[str]
    view_groups: int
    source_shape: tuple[int, ...]
    viewed: list[str]

    # -- the first pass ------------------------------------------------------------------------

    def reduction_dims(self, node: torch.fx.Node) -> set[int] | None:
        """The full-tensor dims `node` reduces (None: it reduces nothing, or a per-row value)."""
        if node.op == "call_module":
            return self.module_dims(self.module.get_submodule(str(node.target)), node)
        key, rank = key_of(node), len(self.full_shape)
        source = shape_of(node.args[0]) if node.args else ()
        if key in SCAN_OPS and len(source) == rank:  # the exclusive form scans a narrowed tensor
            return dims_of(arg_of(node, 1, "dim"), rank, op_name(node))
        if key is None or len(source) != rank or source != self.full_shape:
            return self.loss_dims(node) if key is not None else None
        if key in REDUCE_OPS and not (key in (torch.max, torch.min, "max", "min") and isinstance(arg_of(node, 1, "other"), torch.fx.Node)):
            where = 2 if REDUCE_OPS[key] == "norm" and key is not torch.linalg.vector_norm else 1
            return dims_of(arg_of(node, where, "dim"), rank, op_name(node))
        if key in SOFTMAX_OPS or key in SCAN_OPS:
            return dims_of(arg_of(node, 1, "dim"), rank, op_name(node))
        if key is F.layer_norm:
            return set(range(rank - len(tuple(arg_of(node, 1, "normalized_shape"))), rank))
        if key is F.normalize:
            return dims_of(arg_of(node, 2, "dim", 1), rank, "normalize")
        return self.loss_dims(node)

    def module_dims(self, sub: nn.Module, node: torch.fx.Node) -> set[int] | None:
        rank = len(self.full_shape)
        if isinstance(sub, (nn.Softmax, nn.LogSoftmax)):
            return dims_of(sub.dim, rank, type(sub).__name__)
        if isinstance(sub, (nn.LayerNorm, nn.RMSNorm)):
            return set(range(rank - len(tuple(sub.normalized_shape)), rank))
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            return {d for d in range(rank) if d != 1}
        if isinstance(sub, nn.modules.instancenorm._InstanceNorm):
            return set(range(2, rank))
        if isinstance(sub, nn.GroupNorm):
            return {2, 3}  # of the (N, groups, C / groups, rest) view
        return self.module_loss_dims(sub, node)

    def module_tensor_shapes(self) -> list[tuple[str, tuple[int, ...]]]:
        """Per-channel parameters of batch / instance norms, aligned on dim 1 (not trailing)."""
        shapes = []
        for node in self.graph_nodes():
            if node.op != "call_module":
                continue
            sub = self.module.get_submodule(str(node.target))
            if isinstance(sub, (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)) and sub.affine:
                channel = tuple(1 if d != 1 else self.full_shape[1] for d in range(len(self.full_shape)))
                for leaf in ("weight", "bias"):
                    name = f"param:{node.target}.{leaf}"
                    self.aligned[name] = channel
                    shapes.append((name, channel))
            if isinstance(sub, nn.GroupNorm) and sub.affine:
                _, groups, per_group, _ = self.full_shape
                for leaf in ("weight", "bias"):
                    name = f"param:{node.target}.{leaf}"
                    self.aligned[name] = (1, groups, per_group, 1)
                    shapes.append((name, (1, groups, per_group, 1)))
        return shapes

    # -- handlers ------------------------------------------------------------------------------

    def reduce_handler(self, node: torch.fx.Node) -> Handler | None:
        key = key_of(node)
        if key in (torch.max, torch.min, "max", "min") and isinstance(arg_of(node, 1, "other"), torch.fx.Node):
            return lambda n: self.binary_values("max" if op_name(n) == "max" else "min", n.args[0], n.args[1])
        if key in REDUCE_OPS:
            return self._reduce_node
        if key in SOFTMAX_OPS:
            return lambda n: self.softmax(self.row_input(n, op_name(n)), SOFTMAX_OPS[key_of(n)])
        scan = self.scan_handler(node)
        if scan is not None:
            return scan
        if key is F.layer_norm:
            return self._layer_norm_node
        if key is F.normalize:
            return self._normalize
        return self.loss_handler(node)

    def module_reduce_handler(self, sub: nn.Module) -> Handler | None:
        if isinstance(sub, (nn.Softmax, nn.LogSoftmax)):
            return lambda n: self.softmax(self.row_input(n, type(sub).__name__), isinstance(sub, nn.LogSoftmax))
        if isinstance(sub, nn.LayerNorm):
            return lambda n: self.normalize_rows(n, sub.eps, rms=False)
        if isinstance(sub, nn.RMSNorm):
            eps = sub.eps if sub.eps is not None else float(torch.finfo(torch.float32).eps)
            return lambda n: self.normalize_rows(n, eps, rms=True)
        if isinstance(sub, nn.modules.batchnorm._BatchNorm):
            return lambda n: self._batch_norm(n, sub)
        if isinstance(sub, nn.modules.instancenorm._InstanceNorm):
            if sub.track_running_stats:
                return None
            return lambda n: self.normalize_rows(n, sub.eps, rms=False)
        if isinstance(sub, nn.GroupNorm):
            return lambda n: self.normalize_rows(n, sub.eps, rms=False)
        return self.module_loss_handler(sub)

    def row_input(self, node: torch.fx.Node, what: str) -> Value:
        x = self.value_of(node.args[0])
        if x[1] != "full":
            raise NotCovered(f"{what} of a {x[1]} value (a reduction of a reduction)")
        return x

    def _reduce_node(self, node: torch.fx.Node) -> Value:
        op = REDUCE_OPS[key_of(node)]
        x = self.value_of(node.args[0])
        if x[1] == "row" and self._reduces_all(node):
            return self.final_reduce(op, x, node)
        if x[1] != "full":
            raise NotCovered(f"{op_name(node)} of a {x[1]} value (a reduction of a reduction)")
        body = x[0]
        if op == "norm":
            return self._norm(node, body)
        if op == "logsumexp":
            m = self.reduce("max", body)
            return Binary("add", m, Unary("log", self.reduce("sum", Unary("exp", Binary("sub", body, m))))), "row"
        if op in ("max", "min") and not hasattr(node.meta.get("tensor_meta"), "shape"):
            self.pairs[node.name] = (op, body)  # (values, indices): getitem picks one
            return Const(0.0), "pair"
        if op == "mean":
            return Binary("div", self.reduce("sum", body), Size("cols")), "row"
        return self.reduce(op, body), "row"

    def _reduces_all(self, node: torch.fx.Node) -> bool:
        rank = len(shape_of(node.args[0]))
        where = 2 if REDUCE_OPS[key_of(node)] == "norm" else 1
        return dims_of(arg_of(node, where, "dim"), rank, op_name(node)) == set(range(rank))

    def getitem(self, node: torch.fx.Node) -> Value:
        source, index = node.args[0], node.args[1]
        if not isinstance(source, torch.fx.Node) or source.name not in self.pairs or index not in (0, 1):
            raise NotCovered("indexing a value other than the (values, indices) pair of max / min")
        op, body = self.pairs[source.name]
        return self.reduce(op if index == 0 else f"arg{op}", body), "row"

    def _norm(self, node: torch.fx.Node, body: Expr) -> Value:
        p = arg_of(node, 1, "ord" if key_of(node) in (torch.linalg.norm, torch.linalg.vector_norm) else "p", None)
        if p in (None, "fro", 2, 2.0):
            return Unary("sqrt", self.reduce("sum", Binary("mul", body, body))), "row"
        if p in (1, 1.0):
            return self.reduce("sum", Unary("abs", body)), "row"
        if p in (math.inf, float("inf")):
            return self.reduce("max", Unary("abs", body)), "row"
        raise NotCovered(f"norm with p={p!r} (p = 1, 2, 'fro' and inf are covered)")

    def softmax(self, x: Value, log: bool) -> Value:
        m = self.reduce("max", x[0])
        shifted = Binary("sub", x[0], m)
        s = self.reduce("sum", Unary("exp", shifted))
        if log:
            return Binary("sub", shifted, Unary("log", s)), "full"
        return Binary("div", Unary("exp", shifted), s), "full"

    def normalize_rows(self, node: torch.fx.Node, eps: float, rms: bool) -> Value:
        """LayerNorm / InstanceNorm / RMSNorm over the columns, then the module's affine part."""
        x = self.row_input(node, "normalization")
        if rms:
            scale: Expr = Unary("rsqrt", Binary("add", Binary("div", self.reduce("sum", Binary("mul", x[0], x[0])), Size("cols")), Const(eps)))
            out: Expr = Binary("mul", x[0], scale)
        else:
            mean = Binary("div", self.reduce("sum", x[0]), Size("cols"))
            centered = Binary("sub", x[0], mean)
            var = Binary("div", self.reduce("sum", Binary("mul", centered, centered)), Size("cols"))
            out = Binary("mul", centered, Unary("rsqrt", Binary("add", var, Const(eps))))
        return self.affine(node, out)

    def affine(self, node: torch.fx.Node, out: Expr) -> Value:
        sub = self.module.get_submodule(str(node.target))
        for leaf, op in (("weight", "mul"), ("bias", "add")):
            tensor = getattr(sub, leaf, None)
            if isinstance(tensor, torch.Tensor):
                loaded = self.add_input(f"param:{node.target}.{leaf}", tuple(tensor.shape), tensor.dtype)
                out = Binary(op, out, loaded[0])
        return out, "full"

    def _batch_norm(self, node: torch.fx.Node, sub: nn.modules.batchnorm._BatchNorm) -> Value:
        # KernelBench's harness (and the verifier) leave the module in training mode: BatchNorm
        # normalizes with the batch's statistics; the forward refuses eval mode (running stats).
        self.training_only = True
        return self.normalize_rows(node, sub.eps, rms=False)

    def _layer_norm_node(self, node: torch.fx.Node) -> Value:
        x = self.row_input(node, "layer_norm")
        mean = Binary("div", self.reduce("sum", x[0]), Size("cols"))
        centered = Binary("sub", x[0], mean)
        var = Binary("div", self.reduce("sum", Binary("mul", centered, centered)), Size("cols"))
        out: Expr = Binary("mul", centered, Unary("rsqrt", Binary("add", var, Const(float(arg_of(node, 4, "eps", 1e-5))))))
        for index, key, op in ((2, "weight", "mul"), (3, "bias", "add")):
            arg = arg_of(node, index, key)
            if arg is not None:
                out = Binary(op, out, self.value_of(arg)[0])
        return out, "full"

    def _normalize(self, node: torch.fx.Node) -> Value:
        x = self.row_input(node, "normalize")
        p = arg_of(node, 1, "p", 2.0)
        eps = float(arg_of(node, 3, "eps", 1e-12))
        norm = Unary("sqrt", self.reduce("sum", Binary("mul", x[0], x[0]))) if p in (2, 2.0) else (
            self.reduce("sum", Unary("abs", x[0])) if p in (1, 1.0) else None)
        if norm is None:
            raise NotCovered(f"normalize with p={p!r} (1 and 2 are covered)")
        return Binary("div", x[0], Binary("max", norm, Const(eps))), "full"

    def check_row_broadcast(self, args: Any) -> None:
        """A per-row value meets a value varying along the columns: it must broadcast along the
        reduced dims (reduced with keepdim=True, or re-shaped so), not by torch's trailing rule."""
        kinds = [self.values[a.name][1] if isinstance(a, torch.fx.Node) else "scalar" for a in args]
        if "full" not in kinds and "col" not in kinds:
            return
        for arg in args:
            self._check_row_arg(arg)

    def _check_row_arg(self, arg: Any) -> None:
        if not isinstance(arg, torch.fx.Node) or self.values.get(arg.name, (None, ""))[1] != "row" or not self.reduced:
            return
        shape, rank = shape_of(arg), len(self.full_shape)
        expected = tuple(1 if d in self.reduced else self.full_shape[d] for d in range(rank))
        padded = (1,) * (rank - len(shape)) + shape
        if padded != expected and math.prod(shape) > 1:
            raise NotCovered(f"a reduced value of shape {shape} is broadcast against {self.full_shape} other than "
                             "along the dims it reduced (keepdim=False followed by broadcasting)")

    def binary_values(self, op: str, a: Any, b: Any) -> Value:
        self.check_row_broadcast((a, b))
        return self.combine(op, self.value_of(a), self.value_of(b))

    # -- the program ---------------------------------------------------------------------------

    def program(self, output: Value, output_shape: tuple[int, ...]) -> RowProgram:
        assert self.layout is not None
        expr, kind = output
        rank = len(self.full_shape)
        if self.view_groups:
            if output_shape != self.source_shape or kind not in ("full",):
                raise NotCovered("a GroupNorm model whose output is not the normalized tensor's shape")
            output_shape = self.full_shape
        if (kind == "final") != bool(self.final):
            raise NotCovered("a mean over per-row values that is not the output")
        kind = "row" if kind == "final" else kind
        if kind in ("scan", "scan-flipped"):
            if expr != SCAN_MARK or kind != "scan":
                raise NotCovered("an operation after a cumulative op (other than flip back)")
            kind = "full"
        elif self.scan is not None:
            raise NotCovered("a cumulative op whose result is not the output")
        if kind == "full" and output_shape == self.full_shape:
            out_dims: tuple[int | None, ...] = tuple(range(rank))
        elif kind == "row" and self.final:
            out_dims = (None,) * len(output_shape)
        elif kind == "row" and len(output_shape) == rank:
            out_dims = tuple(None if d in self.reduced else d for d in range(rank))
        elif kind == "row" and len(output_shape) == rank - len(self.reduced):
            out_dims = tuple(d for d in range(rank) if d not in self.reduced)
        else:
            raise NotCovered(f"the output (shape {output_shape}) is a {kind} value; expected a full tensor or one value per row")
        expected = tuple(1 if d is None else self.full_shape[d] for d in out_dims)
        if expected != output_shape:
            raise NotCovered(f"the output shape {output_shape} is not the kept dims of {self.full_shape}")
        rows = math.prod(self.full_shape) // max(math.prod(self.full_shape[d] for d in self.layout.reduced), 1)
        cols = math.prod(self.full_shape[d] for d in self.layout.reduced)
        return RowProgram(
            self.inputs, self.reductions, expr, kind, output_shape, rows, cols, self.ops_list(), layout=self.layout,
            out_dims=out_dims, scan=self.scan, final=self.final, final_weight=self.final_weight,
            training_only=self.training_only, reshaped=tuple(s.name for s in self.inputs if s.name in self.aligned),
            view_groups=self.view_groups, viewed=tuple(self.viewed), source_rank=len(self.source_shape),
        )

    # provided by Lowerer
    def value_of(self, arg: Any) -> Value:
        raise NotImplementedError

    def reduce(self, op: str, body: Expr) -> RowRef:
        raise NotImplementedError

    def add_input(self, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> Value:
        raise NotImplementedError

    def combine(self, op: str, a: Value, b: Value) -> Value:
        raise NotImplementedError

    def graph_nodes(self) -> list[torch.fx.Node]:
        raise NotImplementedError

    def ops_list(self) -> list[str]:
        raise NotImplementedError


__all__ = ["ReduceRules", "arg_of", "attr_of", "op_name"]
