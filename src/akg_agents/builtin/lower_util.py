"""Small helpers of the fx lowering: an operation's name in words, fx arguments, shapes, dims."""

from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch import nn

from akg_agents.builtin.ir import NotCovered


def op_name(node: torch.fx.Node) -> str:
    """The node's operation in words (`sum`, `softmax`), never an object repr."""
    target = node.target
    if isinstance(target, str):
        return target
    name = getattr(target, "__name__", None)
    return str(name) if name else type(target).__name__


def output_tensor(node: torch.fx.Node) -> tuple[torch.fx.Node, tuple[int, ...]]:
    """The one tensor an fx `output` node returns, with its traced shape (else NotCovered)."""
    arg = node.args[0]
    if isinstance(arg, (tuple, list)):
        if len(arg) != 1:
            raise NotCovered("the model returns several tensors; the built-in generator makes one output")
        arg = arg[0]
    if not isinstance(arg, torch.fx.Node) or not hasattr(arg.meta.get("tensor_meta"), "shape"):
        raise NotCovered("the model's output is not one tensor")
    return arg, tuple(arg.meta["tensor_meta"].shape)


def arg_of(node: torch.fx.Node, index: int, key: str, default: Any = None) -> Any:
    """An fx argument by position or keyword (fx types them as a wide union; we check values)."""
    args: Any = node.args
    return args[index] if len(args) > index else node.kwargs.get(key, default)


def attr_of(module: nn.Module, target: str) -> torch.Tensor:
    value: Any = module
    for part in target.split("."):
        value = getattr(value, part)
    if not isinstance(value, torch.Tensor):
        raise NotCovered(f"attribute {target} is not a tensor")
    return value


def key_of(node: torch.fx.Node) -> Any:
    return node.target if node.op in ("call_function", "call_method") else None


def shape_of(arg: Any) -> tuple[int, ...]:
    meta = arg.meta.get("tensor_meta") if isinstance(arg, torch.fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def dims_of(dim: Any, rank: int, what: str) -> set[int]:
    """Normalized reduced dims (None: all of them)."""
    if dim is None:
        return set(range(rank))
    dims = [dim] if isinstance(dim, int) else list(dim) if isinstance(dim, (list, tuple)) else None
    if dims is None or not all(isinstance(d, int) for d in dims):
        raise NotCovered(f"{what} over dims that are not constants")
    return {d % rank for d in dims} if rank else set()
