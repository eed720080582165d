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


SHAPE_METHODS = {"view", "reshape", "squeeze", "unsqueeze"}


def is_reshape(node: torch.fx.Node) -> bool:
    return (node.op == "call_method" and node.target in SHAPE_METHODS) or node.target in (
        torch.reshape, torch.squeeze, torch.unsqueeze)


def reshaped_input_alignments(graph: torch.fx.Graph, rank: int) -> dict[str, tuple[int, ...]]:
    """Inputs that broadcast as a view of themselves, by name, with the view's aligned shape.

    An input used only through an unsqueeze/view broadcasts as that view, not as itself:
    KernelBench's diagonal matmul writes `A.unsqueeze(1) * B`, where A (N,) scales B's rows.
    Aligned by its own trailing dims, A would scale B's columns instead: silently wrong whenever
    N == M. Adding or removing size-1 dims keeps the memory order, so the kernel reads A as it is
    and only the broadcast changes.
    """
    from akg_agents.builtin.layout import aligned_shape

    found: dict[str, tuple[int, ...]] = {}
    for node in graph.nodes:
        meta = node.meta.get("tensor_meta")
        if node.op != "placeholder" or meta is None or not hasattr(meta, "shape") or len(meta.shape) > rank:
            continue
        kept = [d for d in meta.shape if d != 1]
        views = set()
        for user in node.users:
            shape = tuple(user.meta["tensor_meta"].shape) if is_reshape(user) and user.meta.get("tensor_meta") is not None else None
            if shape is not None and len(shape) <= rank and [d for d in shape if d != 1] == kept:
                views.add(aligned_shape(shape, rank))
        moved = views - {aligned_shape(tuple(meta.shape), rank)}
        if not moved:
            continue  # every view broadcasts as the input itself does
        if len(views) > 1 or not all(is_reshape(user) for user in node.users):
            raise NotCovered(f"input {node.name} is used both as it is and through a view that broadcasts differently")
        found[node.name] = moved.pop()
    return found
