"""Losses as fused reductions (a mixin of the Lowerer, see lower_reduce.py).

Elementwise losses (MSE, L1, smooth L1 / Huber, KL divergence) reduce their pointwise body over
every dim: one row program whose columns are all the dims. Per-sample losses (cross-entropy,
triplet margin, cosine similarity) reduce over the last dim per row and then take the mean over
rows: the program's `final` reduction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from akg_agents.builtin.ir import Binary, ColIndex, Const, Expr, NotCovered, RowRef, Size, Unary, Where

Value = tuple[Expr, str]
ELEMENTWISE: dict[Any, str] = {F.mse_loss: "mse", F.l1_loss: "l1", F.smooth_l1_loss: "smooth_l1", F.huber_loss: "huber",
                               F.kl_div: "kl_div"}
ELEMENTWISE_MODULES: dict[type, str] = {nn.MSELoss: "mse", nn.L1Loss: "l1", nn.SmoothL1Loss: "smooth_l1",
                                        nn.HuberLoss: "huber", nn.KLDivLoss: "kl_div"}
PER_ROW: dict[Any, str] = {F.cross_entropy: "cross_entropy", F.triplet_margin_loss: "triplet", F.cosine_similarity: "cosine",
                           torch.cosine_similarity: "cosine"}
PER_ROW_MODULES: dict[type, str] = {nn.CrossEntropyLoss: "cross_entropy", nn.TripletMarginLoss: "triplet",
                                    nn.CosineSimilarity: "cosine"}
# positional order of each functional form's options after its tensors (torch's signatures)
OPTIONS: dict[str, tuple[tuple[str, Any], ...]] = {
    "mse": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    "l1": (("size_average", None), ("reduce", None), ("reduction", "mean")),
    "smooth_l1": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("beta", 1.0)),
    "huber": (("reduction", "mean"), ("delta", 1.0)),
    "kl_div": (("size_average", None), ("reduce", None), ("reduction", "mean"), ("log_target", False)),
    "cross_entropy": (("weight", None), ("size_average", None), ("ignore_index", -100), ("reduce", None),
                      ("reduction", "mean"), ("label_smoothing", 0.0)),
    "triplet": (("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False), ("size_average", None), ("reduce", None),
                ("reduction", "mean")),
    "cosine": (("dim", 1), ("eps", 1e-8)),
}
TENSORS = {"mse": 2, "l1": 2, "smooth_l1": 2, "huber": 2, "kl_div": 2, "cross_entropy": 2, "triplet": 3, "cosine": 2}


def _options(name: str, node: torch.fx.Node, module: nn.Module | None) -> dict[str, Any]:
    args: Any = node.args
    first = TENSORS[name]
    out = {}
    for index, (key, default) in enumerate(OPTIONS[name]):
        if module is not None:
            value = getattr(module, {"delta": "delta", "beta": "beta"}.get(key, key), default)
        else:
            value = args[first + index] if len(args) > first + index else node.kwargs.get(key, default)
        out[key] = value
    if out.get("size_average") is not None or out.get("reduce") is not None:
        raise NotCovered(f"{name} loss with the deprecated size_average / reduce arguments")
    return out


class LossRules:
    full_shape: tuple[int, ...]
    module: nn.Module
    aligned: dict[str, tuple[int, ...]]
    final: str
    final_weight: Expr | None

    def _loss_name(self, node: torch.fx.Node) -> tuple[str, nn.Module | None] | None:
        if node.op == "call_module":
            sub = self.module.get_submodule(str(node.target))
            name = ELEMENTWISE_MODULES.get(type(sub)) or PER_ROW_MODULES.get(type(sub))
            return (name, sub) if name else None
        if node.op == "call_function":
            name = ELEMENTWISE.get(node.target) or PER_ROW.get(node.target)
            return (name, None) if name else None
        return None

    def loss_dims(self, node: torch.fx.Node) -> set[int] | None:
        found = self._loss_name(node)
        if found is None:
            return None
        name, sub = found
        rank = len(self.full_shape)
        options = _options(name, node, sub)
        if name in ("triplet", "cosine", "cross_entropy"):
            if rank != 2:
                raise NotCovered(f"{name} loss on rank-{rank} inputs (2-D (batch, features) inputs are covered)")
            if name == "cross_entropy":
                target = node.args[1]
                if isinstance(target, torch.fx.Node):
                    self.aligned[target.name] = (self.full_shape[0], 1)  # one class index per row
            if name == "cosine" and int(options["dim"]) % 2 != 1:
                raise NotCovered("cosine similarity over dim 0")
            return {1}
        return set(range(rank)) if options["reduction"] != "none" else None

    def module_loss_dims(self, sub: nn.Module, node: torch.fx.Node) -> set[int] | None:
        return self.loss_dims(node)

    def loss_handler(self, node: torch.fx.Node) -> Callable[[torch.fx.Node], Value] | None:
        return self._loss if self._loss_name(node) is not None else None

    def module_loss_handler(self, sub: nn.Module) -> Callable[[torch.fx.Node], Value] | None:
        name = ELEMENTWISE_MODULES.get(type(sub)) or PER_ROW_MODULES.get(type(sub))
        return self._loss if name else None

    def _loss(self, node: torch.fx.Node) -> Value:
        found = self._loss_name(node)
        assert found is not None
        name, sub = found
        options = _options(name, node, sub)
        tensors = [self.value_of(a) for a in node.args[: TENSORS[name]]]
        if name in ELEMENTWISE.values():
            return self._elementwise(name, options, tensors[0][0], tensors[1][0])
        if name == "cross_entropy":
            return self._cross_entropy(options, tensors[0], tensors[1])
        if name == "triplet":
            return self._triplet(options, tensors)
        return self._cosine(options, tensors[0][0], tensors[1][0])

    def _elementwise(self, name: str, options: dict[str, Any], a: Expr, b: Expr) -> Value:
        diff = Binary("sub", a, b)
        if name == "mse":
            body: Expr = Binary("mul", diff, diff)
        elif name == "l1":
            body = Unary("abs", diff)
        elif name in ("smooth_l1", "huber"):
            d = Unary("abs", diff)
            k = float(options["beta" if name == "smooth_l1" else "delta"])
            if name == "smooth_l1":
                near = Binary("div", Binary("mul", Const(0.5), Binary("mul", d, d)), Const(k)) if k > 0 else d
                far = Binary("sub", d, Const(0.5 * k))
            else:
                near, far = Binary("mul", Const(0.5), Binary("mul", d, d)), Binary("mul", Const(k), Binary("sub", d, Const(0.5 * k)))
            body = Where(Binary("lt", d, Const(k)), near, far)
        else:  # kl_div(input, target): target * (log(target) - input), 0 where target == 0
            if options["log_target"]:
                body = Binary("mul", Unary("exp", b), Binary("sub", b, a))
            else:
                body = Binary("sub", Where(Binary("gt", b, Const(0.0)), Binary("mul", b, Unary("log", b)), Const(0.0)), Binary("mul", b, a))
        reduction = options["reduction"]
        if reduction == "none":
            return body, "full"
        total = self.reduce("sum", body)
        if reduction == "sum":
            return total, "row"
        if reduction == "batchmean":
            return Binary("div", total, Size("d0")), "row"
        if reduction == "mean":
            return Binary("div", total, Size("cols")), "row"
        raise NotCovered(f"{name} loss with reduction={reduction!r}")

    def _per_row(self, value: Expr, reduction: str, weight: Expr | None = None) -> Value:
        if reduction == "none":
            return value, "row"
        if reduction not in ("mean", "sum"):
            raise NotCovered(f"reduction={reduction!r}")
        self.final, self.final_weight = reduction, weight
        return value, "final"

    def _cross_entropy(self, options: dict[str, Any], x: Value, target: Value) -> Value:
        if options["weight"] is not None or float(options["label_smoothing"]) != 0.0:
            raise NotCovered("cross_entropy with class weights or label smoothing")
        if target[1] != "row":
            raise NotCovered("cross_entropy with probabilities as targets (class indices are covered)")
        m = self.reduce("max", x[0])
        lse = Binary("add", m, Unary("log", self.reduce("sum", Unary("exp", Binary("sub", x[0], m)))))
        picked = self.reduce("sum", Where(Binary("eq", ColIndex(), target[0]), x[0], Const(0.0)))
        kept = Binary("ne", target[0], Const(float(options["ignore_index"])))
        loss = Where(kept, Binary("sub", lse, picked), Const(0.0))
        return self._per_row(loss, str(options["reduction"]), kept if options["reduction"] == "mean" else None)

    def _triplet(self, options: dict[str, Any], tensors: list[Value]) -> Value:
        if options["swap"] or float(options["p"]) != 2.0:
            raise NotCovered("triplet margin loss with swap or p other than 2")
        eps = Const(float(options["eps"]))
        anchor, positive, negative = (t[0] for t in tensors)

        def distance(other: Expr) -> Expr:
            d = Binary("add", Binary("sub", anchor, other), eps)  # torch.pairwise_distance adds eps
            return Unary("sqrt", self.reduce("sum", Binary("mul", d, d)))

        gap = Binary("add", Binary("sub", distance(positive), distance(negative)), Const(float(options["margin"])))
        return self._per_row(Binary("max", gap, Const(0.0)), str(options["reduction"]))

    def _cosine(self, options: dict[str, Any], a: Expr, b: Expr) -> Value:
        eps = Const(float(options["eps"]))
        na = Binary("max", Unary("sqrt", self.reduce("sum", Binary("mul", a, a))), eps)
        nb = Binary("max", Unary("sqrt", self.reduce("sum", Binary("mul", b, b))), eps)
        return Binary("div", self.reduce("sum", Binary("mul", a, b)), Binary("mul", na, nb)), "row"

    def final_reduce(self, op: str, x: Value, node: torch.fx.Node) -> Value:
        """sum / mean over all rows of a per-row value (e.g. torch.mean(1 - cosine_similarity))."""
        if op not in ("sum", "mean"):
            raise NotCovered(f"{op} over per-row values (sum and mean are covered)")
        self.final = op
        return x[0], "final"

    # provided by Lowerer
    def value_of(self, arg: Any) -> Value:
        raise NotImplementedError

    def reduce(self, op: str, body: Expr) -> RowRef:
        raise NotImplementedError
