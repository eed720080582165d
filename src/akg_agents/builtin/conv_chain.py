"""Tasks whose forward is a chain of convolution / pooling layers, each feeding the next:
`x = self.depthwise(x); x = self.pointwise(x)` (KernelBench's depthwise-separable convolution).

Each layer gets the kernel the one-layer generator writes for it (conv_triton.py, pool.py),
taken from that generator's own candidate module through the AST: its @triton.jit kernels
(renamed per layer), its helpers, and its ModelNew turned into a small `_Layer<i>` module built
from the layer. ModelNew runs the layers in sequence, each writing a fresh intermediate tensor.
So every layer keeps its one-layer guarantees: configuration read from the embedded Model,
output sizes from the input's shape, any input of the layer's rank, other ranks / dtypes
refused in one line. Candidate k uses each layer's k-th variant (its last when it has fewer).
"""

from __future__ import annotations

import ast
import copy
import types
from dataclasses import replace
from typing import Any

import torch
import torch.fx

from akg_agents.builtin.generator import EMBEDDED_MODEL, embedded_task_source, future_imports
from akg_agents.builtin.layer_task import CONVS, DTYPES, POOLS, LayerTask
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.precision import traced_model
from akg_agents.records import Candidate, Task

LAYER_TYPES = (*CONVS, *POOLS)


def traced_task_model(module: types.ModuleType) -> torch.fx.GraphModule | None:
    """The task's Model (built as the verifier builds it, in the traced precision) traced by
    torch.fx; None when it does not trace. Built once for every structural check here."""
    torch.manual_seed(0)
    model = traced_model(module.Model(*module.get_init_inputs()).eval())
    try:
        return torch.fx.symbolic_trace(model)
    except Exception:
        return None


def find_layer_chain(traced: torch.fx.GraphModule, inputs: list[Any]) -> list[LayerTask] | None:
    """The layers when forward applies two or more convolution / pooling modules in sequence to
    its single tensor input, each to the previous one's output; None otherwise."""
    if len(inputs) != 1 or not isinstance(inputs[0], torch.Tensor):
        return None
    nodes = [n for n in traced.graph.nodes if not (n.op == "call_method" and n.target == "contiguous")]
    calls = nodes[1:-1]
    if ([n.op for n in nodes] != ["placeholder", *["call_module"] * len(calls), "output"] or len(calls) < 2
            or any(type(traced.get_submodule(str(n.target))) not in LAYER_TYPES for n in calls)):
        return None
    previous = nodes[0]
    for node in [*calls, nodes[-1]]:
        if tuple(_skip_contiguous(a) for a in node.args) != (previous,) or node.kwargs:
            return None
        previous = node
    x = inputs[0]
    if x.dtype not in DTYPES:
        raise NotCovered(f"a chain of {len(calls)} layers on {x.dtype} input (covered: float32, float16, bfloat16)")
    shape = torch.empty(x.shape, dtype=x.dtype, device="meta")  # shapes only: no compute at full size
    chain = []
    for node in calls:
        layer = traced.get_submodule(str(node.target))
        chain.append(LayerTask(str(node.target), layer, tuple(shape.shape), DTYPES[x.dtype]))
        with torch.no_grad():
            shape = copy.deepcopy(layer).to("meta")(shape)
    return chain


def _skip_contiguous(arg: Any) -> Any:
    while isinstance(arg, torch.fx.Node) and arg.op == "call_method" and arg.target == "contiguous":
        arg = arg.args[0]
    return arg


def layer_candidates_for(task: Task, layer: LayerTask, dsl: str, count: int, threads: int) -> list[Candidate]:
    """The one-layer generator's candidates for this layer of the chain."""
    if type(layer.layer) in POOLS:
        from akg_agents.builtin.pool import cpp_pool_candidates, triton_pool_candidates

        if dsl == "cpp":
            return cpp_pool_candidates(task, layer, count, threads)
        return triton_pool_candidates(task, layer, count)
    if dsl != "triton_cuda":
        raise NotCovered(f"a chain of layers with {type(layer.layer).__name__} in {dsl}")
    from akg_agents.builtin.conv_triton import triton_conv_candidates

    return triton_conv_candidates(task, layer, count)


class _Rename(ast.NodeTransformer):
    def __init__(self, names: dict[str, str]) -> None:
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.names:
            node.id = self.names[node.id]
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        node.name = self.names.get(node.name, node.name)
        self.generic_visit(node)
        return node


MODEL_START = "# ---- The task's Model"
MODEL_END = "# ---- end of the task's Model."


def split_layer_module(code: str, index: int) -> tuple[list[str], list[ast.stmt], ast.ClassDef]:
    """(imports, module-level code after the embedded Model, `_Layer<index>`) of a one-layer
    candidate module (layer_task.layer_model_new's layout); the functions and names it defines
    after the Model (its @triton.jit kernels, helpers, a library handle) are suffixed with
    `_l<index>`, so that layers whose kernels share a name coexist."""
    if MODEL_START not in code or MODEL_END not in code:
        raise NotCovered("a chain layer whose one-layer module does not embed the task's Model")
    head = ast.parse(code.split(MODEL_START, 1)[0])
    tail = ast.parse(code.split(MODEL_END, 1)[1])
    imports = [ast.unparse(n) for n in head.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    model_new = next(n for n in tail.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew")
    own = [n for n in tail.body if n is not model_new]
    if any(not isinstance(n, (ast.FunctionDef, ast.Assign, ast.Expr)) for n in own):
        raise NotCovered("a chain layer whose one-layer module has module-level code other than functions and assignments")
    defined = {n.name for n in own if isinstance(n, ast.FunctionDef)}
    defined |= {t.id for n in own if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    renamer = _Rename({name: f"{name}_l{index}" for name in defined})
    own = [renamer.visit(n) for n in own]
    layer_class = renamer.visit(model_new)
    layer_class.name = f"_Layer{index}"
    layer_class.body = [n for n in layer_class.body if not isinstance(n, ast.Expr)]  # the docstring
    init = next(n for n in layer_class.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    init.args = ast.parse("def f(self, layer): pass").body[0].args  # type: ignore[attr-defined]
    kept = [s for s in init.body if not _binds(s, "reference") and not _binds(s, "layer")]
    if any(_uses(s, "reference") for s in kept):
        raise NotCovered("a chain layer whose one-layer kernel reads more of the Model than the layer")
    init.body = kept
    return imports, own, layer_class


def _binds(stmt: ast.stmt, name: str) -> bool:
    return isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in stmt.targets)


def _uses(stmt: ast.stmt, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(stmt))


def chain_model_new_header(task: Task, imports: list[str], kernel_block: str, init: str, forward: str, label: str) -> str:
    """A candidate module for a chain task: the task's Model embedded, `kernel_block` (module-level
    code), ModelNew whose __init__ builds the Model as `reference` then runs `init`, and whose
    forward(x) runs `forward` (which sets `out`)."""
    lines = dict.fromkeys(["import torch", "import torch.nn as nn", *(i for i in imports if not i.startswith("from __future__"))])
    return f'''{future_imports(task)}{chr(10).join(lines)}

{MODEL_START}, embedded so that ModelNew reads its layers exactly as Model builds them.
{embedded_task_source(task)}
{MODEL_END}

{kernel_block}


class ModelNew(nn.Module):
    """Generated by akg_agents' built-in generator{label}."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        reference = {EMBEDDED_MODEL}(*args, **kwargs)
{init}

    def forward(self, x):
{forward}
        return out
'''


def chain_model_new(task: Task, chain: list[LayerTask], codes: list[str], label: str) -> str:
    imports: list[str] = []
    blocks: list[str] = []
    for index, code in enumerate(codes):
        layer_imports, own, layer_class = split_layer_module(code, index)
        imports.extend(layer_imports)
        blocks.extend(ast.unparse(n) for n in [*own, layer_class])
    build = "\n".join(f"        self.l{i} = _Layer{i}(reference.get_submodule({layer.name!r}))" for i, layer in enumerate(chain))
    steps = "\n".join(["        x = x.contiguous()", *(f"        x = self.l{i}(x)" for i in range(len(chain))), "        out = x"])
    return chain_model_new_header(task, imports, (chr(10) * 3).join(blocks), build, steps,
                                  f"{label}: one kernel per layer, in sequence")


def layer_chain_candidates(task: Task, chain: list[LayerTask], dsl: str, count: int,
                           threads: int = 0) -> list[Candidate] | None:
    """Candidates running the chain's layers in sequence; None for a chain with a convolution on
    the CPU (the cpp generator's PolyTOPS path schedules the whole chain as one loop nest)."""
    if dsl == "cpp" and any(type(layer.layer) in CONVS for layer in chain):
        return None
    per_layer = [layer_candidates_for(task, layer, dsl, count, threads) for layer in chain]
    total = min(max(count, 1), max(len(c) for c in per_layer))
    names = " -> ".join(type(layer.layer).__name__ for layer in chain)
    candidates = []
    for index in range(total):
        picked = [c[min(index, len(c) - 1)] for c in per_layer]
        code = chain_model_new(task, chain, [c.code for c in picked], f" ({dsl} {names})")
        candidates.append(Candidate(
            id=f"builtin-chain-{index}", dsl=dsl, code=code, agent="builtin", step=index,
            params={"kind": "per_layer", "layers": [dict(c.params) for c in picked]},
            note=f"{len(chain)} layers in sequence: " + "; ".join(c.note for c in picked)))
    return _with_fused(task, chain, dsl, count, candidates)


def _with_fused(task: Task, chain: list[LayerTask], dsl: str, count: int, candidates: list[Candidate]) -> list[Candidate]:
    """Depthwise then pointwise Conv2d on Triton: the fused kernel's candidates (conv_fused.py)
    after the first per-layer one (that one is checked on the GPU; the fused one is newer)."""
    from akg_agents.builtin.conv_fused import fused_candidates, is_depthwise_pointwise

    if dsl != "triton_cuda" or not is_depthwise_pointwise(chain):
        return candidates
    fused = fused_candidates(task, chain, len(candidates), count)
    merged = [*candidates[:1], *fused, *candidates[1:]][: max(count, 1)]
    return [replace(c, id=f"builtin-chain-{i}", step=i) for i, c in enumerate(merged)]
