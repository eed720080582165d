"""Cumulative ops (a mixin of the Lowerer, see lower_reduce.py): cumsum / cumprod along a dim, the
reverse form `flip(cumsum(flip(x, d), d), d)`, and the exclusive form KernelBench writes as

    cat((zeros_like(x.select(d, 0).unsqueeze(d)), cumsum(x.narrow(d, 0, x.size(d) - 1), d)), d)

Each becomes the program's Scan (ir.py); the scan's value may only be the output.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.fx

from akg_agents.builtin.ir import Const, Expr, NotCovered, RowRef, Scan
from akg_agents.builtin.lower_util import arg_of, dims_of, key_of, op_name

Value = tuple[Expr, str]
SCAN_OPS: dict[Any, str] = {torch.cumsum: "sum", torch.cumprod: "prod", "cumsum": "sum", "cumprod": "prod"}
SCAN_MARK = RowRef(-1)  # the value of a scan: only the program's output (or a flip of it) may use it
EXCLUSIVE_PARTS = {"size", "narrow", "select", torch.zeros_like, torch.cat}


class ScanRules:
    full_shape: tuple[int, ...]
    reduced: set[int]
    scan: Scan | None
    values: dict[str, Value]

    def scan_handler(self, node: torch.fx.Node) -> Callable[[torch.fx.Node], Value] | None:
        key = key_of(node)
        if key in SCAN_OPS:
            return self._scan_node
        if key == "flip" or key is torch.flip:
            return self._flip
        if key in EXCLUSIVE_PARTS:
            return self._exclusive_part
        return None

    def _scan_node(self, node: torch.fx.Node) -> Value:
        x = self.raw_value(node.args[0])
        if x[1] not in ("full", "flipped", "narrowed"):
            raise NotCovered(f"{op_name(node)} of a {x[1]} value")
        if node.kwargs.get("dtype") is not None:
            raise NotCovered(f"{op_name(node)} with a dtype argument")
        op = SCAN_OPS[key_of(node)]
        if x[1] == "narrowed" and op != "sum":
            raise NotCovered("an exclusive cumprod")
        self.scan = Scan(op, x[0], reverse=x[1] == "flipped", exclusive=x[1] == "narrowed")
        return SCAN_MARK, {"flipped": "scan-flipped", "narrowed": "scan-narrowed"}.get(x[1], "scan")

    def _flip(self, node: torch.fx.Node) -> Value:
        """flip(cumsum(flip(x, d), d), d): a reverse scan; no other flip is covered."""
        x = self.raw_value(node.args[0])
        dims = dims_of(arg_of(node, 1, "dims"), len(self.full_shape), "flip")
        if dims != self.reduced:
            raise NotCovered("flip over other dims than the scan's")
        if x[1] == "full" and all(key_of(u) in SCAN_OPS for u in node.users):
            return x[0], "flipped"
        if x[1] == "scan-flipped":
            return x[0], "scan"
        raise NotCovered("flip other than around a cumulative op (reverse cumsum)")

    def _exclusive_part(self, node: torch.fx.Node) -> Value:
        """The pieces of the exclusive cumsum, checked against the pattern above."""
        key, rank = key_of(node), len(self.full_shape)
        dim = dims_of(arg_of(node, 1, "dim"), rank, op_name(node)) if key not in (torch.zeros_like, torch.cat) else set()
        if key == "size" and dim == self.reduced:
            return self.raw_value(node.args[0])[0], "size"
        if key == "narrow" and dim == self.reduced and arg_of(node, 2, "start") == 0 and self._is_size_minus_one(arg_of(node, 3, "length"), node.args[0]):
            return self.raw_value(node.args[0])[0], "narrowed"
        if key == "select" and dim == self.reduced and arg_of(node, 2, "index") == 0:
            return Const(0.0), "slice"
        if key is torch.zeros_like and self.raw_value(node.args[0])[1] == "slice":
            return Const(0.0), "zeros"
        if key is torch.cat:
            parts = arg_of(node, 0, "tensors")
            kinds = [self.raw_value(p)[1] for p in parts] if isinstance(parts, (tuple, list)) else []
            if kinds == ["zeros", "scan-narrowed"] and dims_of(arg_of(node, 1, "dim", 0), rank, "cat") == self.reduced:
                return SCAN_MARK, "scan"
        raise NotCovered(f"operation {op_name(node)} other than in an exclusive cumsum")

    def _is_size_minus_one(self, length: Any, source: Any) -> bool:
        if not isinstance(length, torch.fx.Node) or length.target is not operator.sub or length.args[1] != 1:
            return False
        size = length.args[0]
        return isinstance(size, torch.fx.Node) and self.values.get(size.name, (None, ""))[1] == "size" and size.args[0] is source

    def raw_value(self, arg: Any) -> Value:
        if not isinstance(arg, torch.fx.Node):
            raise NotCovered(f"argument {arg!r} is not a tensor")
        return self.values[arg.name]
