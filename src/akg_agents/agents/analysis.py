"""Op analysis from the task's fx graph: op kinds, shapes, FLOPs, bytes, arithmetic intensity.

This is what the Designer reasons from and what skill selection filters on. The task was already
validated in the sandbox, so it is known to run (the built-in generator traces it the same way).
A model fx cannot trace still gets an analysis: kinds guessed from the source, shapes from a run.
"""

from __future__ import annotations

import math
import re
import types
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch.fx.passes.shape_prop import ShapeProp

from akg_agents.records import Task

KIND_PATTERNS: list[tuple[str, str]] = [
    ("softmax", r"softmax"), ("norm", r"norm"), ("matmul", r"matmul|^mm$|bmm|linear|einsum|addmm|baddbmm"),
    ("conv", r"conv"), ("pool", r"pool"),
    ("reduction", r"^(sum|mean|amax|amin|max|min|var|std|prod|logsumexp|cumsum|argmax|argmin)$|loss|cross_entropy"),
    ("layout", r"^(view|reshape|permute|transpose|contiguous|flatten|unsqueeze|squeeze|expand|size|getattr|getitem|cat|stack|chunk|split)$"),
]
FLOPS_PER_ELEMENT = {"elementwise": 1, "reduction": 1, "softmax": 5, "norm": 8, "pool": 9, "layout": 0, "other": 1}


@dataclass(frozen=True)
class OpInfo:
    name: str
    kind: str
    shape: tuple[int, ...]


@dataclass
class OpAnalysis:
    ops: list[OpInfo] = field(default_factory=list)
    input_shapes: list[tuple[int, ...]] = field(default_factory=list)
    output_shapes: list[tuple[int, ...]] = field(default_factory=list)
    dtypes: list[str] = field(default_factory=list)
    flops: float = 0.0
    bytes: float = 0.0
    note: str = ""

    @property
    def kinds(self) -> list[str]:
        return sorted({op.kind for op in self.ops if op.kind != "layout"})

    @property
    def intensity(self) -> float:
        return self.flops / self.bytes if self.bytes else 0.0

    def text(self) -> str:
        lines = [f"- inputs: {', '.join(str(s) for s in self.input_shapes)} ({', '.join(sorted(set(self.dtypes)))})",
                 f"- outputs: {', '.join(str(s) for s in self.output_shapes)}",
                 f"- op kinds: {', '.join(self.kinds) or 'unknown'}"]
        if self.ops:
            lines.append("- ops in order: " + "; ".join(f"{o.name} [{o.kind}] -> {o.shape}" for o in self.ops[:24]))
        lines.append(f"- work: about {self.flops / 1e6:.1f} MFLOP over {self.bytes / 1e6:.1f} MB of compulsory "
                     f"memory traffic: arithmetic intensity {self.intensity:.2f} FLOP/byte "
                     f"({'memory-bound' if self.intensity < 8 else 'compute-bound'} on a CPU)")
        if self.note:
            lines.append(f"- note: {self.note}")
        return "\n".join(lines)


def classify(name: str) -> str:
    base = name.split(".")[-1].lower().strip("_")
    for kind, pattern in KIND_PATTERNS:
        if re.search(pattern, base):
            return kind
    return "elementwise" if base not in ("", "output") else "other"


def _node_name(node: torch.fx.Node, module: torch.nn.Module) -> str:
    if node.op == "call_module":
        return type(module.get_submodule(str(node.target))).__name__
    target = node.target
    return target if isinstance(target, str) else getattr(target, "__name__", str(target))


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else ()


def _flops(kind: str, node: torch.fx.Node, shape: tuple[int, ...], module: torch.nn.Module) -> float:
    out = math.prod(shape) if shape else 0
    if kind == "matmul":
        first = node.args[0] if node.args else None
        k = _shape(first)[-1] if isinstance(first, torch.fx.Node) and _shape(first) else 1
        return 2.0 * out * k
    if kind == "conv" and node.op == "call_module":
        conv = module.get_submodule(str(node.target))
        weight = getattr(conv, "weight", None)
        per_out = math.prod(weight.shape[1:]) if weight is not None else 1
        return 2.0 * out * per_out
    if kind == "reduction" and node.args and isinstance(node.args[0], torch.fx.Node):
        return float(math.prod(_shape(node.args[0])) or out)
    return float(FLOPS_PER_ELEMENT.get(kind, 1) * out)


def analyze_task(task: Task) -> OpAnalysis:
    namespace = types.ModuleType("akg_analysis_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), namespace.__dict__)
    torch.manual_seed(0)
    model = namespace.Model(*namespace.get_init_inputs()).eval()
    inputs = list(namespace.get_inputs())
    analysis = OpAnalysis()
    tensors = [t for t in inputs if isinstance(t, torch.Tensor)]
    analysis.input_shapes = [tuple(t.shape) for t in tensors]
    analysis.dtypes = [str(t.dtype).replace("torch.", "") for t in tensors]
    compulsory = sum(t.numel() * t.element_size() for t in tensors)
    compulsory += sum(p.numel() * p.element_size() for p in model.parameters())
    try:
        traced = torch.fx.symbolic_trace(model)
        with torch.no_grad():
            ShapeProp(traced).propagate(*inputs)
        _walk(traced, analysis)
    except Exception as exc:  # an untraceable model still gets kinds from its source
        analysis.note = f"torch.fx could not trace the model ({type(exc).__name__}); op kinds guessed from the source"
        analysis.ops = _guess_from_source(task.source)
        with torch.no_grad():
            outputs = model(*inputs)
        outs = outputs if isinstance(outputs, (tuple, list)) else [outputs]
        analysis.output_shapes = [tuple(o.shape) for o in outs if isinstance(o, torch.Tensor)]
        analysis.flops = float(sum(math.prod(s) for s in analysis.input_shapes))
    out_elems = sum(math.prod(s) for s in analysis.output_shapes)
    analysis.bytes = float(compulsory + out_elems * (tensors[0].element_size() if tensors else 4))
    return analysis


def _walk(traced: torch.fx.GraphModule, analysis: OpAnalysis) -> None:
    for node in traced.graph.nodes:
        if node.op == "output":
            arg = node.args[0]
            outs: list[Any] = list(arg) if isinstance(arg, (tuple, list)) else [arg]
            analysis.output_shapes = [_shape(o) for o in outs if isinstance(o, torch.fx.Node)]
        elif node.op in ("call_function", "call_method", "call_module"):
            name = _node_name(node, traced)
            kind = classify(name)
            shape = _shape(node)
            analysis.ops.append(OpInfo(name, kind, shape))
            analysis.flops += _flops(kind, node, shape, traced)


def _guess_from_source(source: str) -> list[OpInfo]:
    words = set(re.findall(r"[A-Za-z_]\w*", source.split("def get_inputs")[0]))
    found = [OpInfo(w, classify(w), ()) for w in sorted(words) if classify(w) not in ("elementwise", "layout", "other")]
    return found or [OpInfo("forward", "elementwise", ())]
