"""Two matrix products in a chain on the CPU (the MLP block: x -> Linear -> pointwise -> Linear ->
pointwise, residuals of the inputs allowed): the fx graph is cut at the second product's operand,
each part lowered as one MatmulProgram (lower_matmul.py) and run as one packed GEMM
(cpp_gemm_kernel.py), the first writing a float32 scratch that the second reads. float32 tasks only
(a half-precision reference rounds the scratch to its dtype between the products)."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx

from akg_agents.builtin.cpp_gemm import GEMM_VARIANTS, GemmParams, _guard_lines, _shape_lines, gemm_source
from akg_agents.builtin.cpp_gemm_kernel import EpilogueNotCovered
from akg_agents.builtin.generator import model_new_source
from akg_agents.builtin.ir import InputSpec
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.lower_matmul import _is_matmul, _propagate_shapes, lower_matmul_model
from akg_agents.builtin.matmul_ir import MatmulProgram
from akg_agents.records import Candidate, Task

SCRATCH = "_h"  # the first product's output, the second's operand (a placeholder of the second part)


@dataclass
class Chain:
    """What the ModelNew template needs (inputs: the forward args, then the parameters) and the
    two programs, whose input names are forward args, parameters or SCRATCH."""

    inputs: list[InputSpec]
    first: MatmulProgram
    second: MatmulProgram
    ops: list[str] = field(default_factory=list)


def _part(traced: torch.fx.GraphModule, keep: list[torch.fx.Node], result: torch.fx.Node,
          placeholders: list[torch.fx.Node], scratch: torch.fx.Node | None) -> torch.fx.GraphModule:
    """A GraphModule of `keep` (graph order) returning `result`; `scratch` becomes a placeholder."""
    graph = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {p: graph.placeholder(p.name) for p in placeholders}
    if scratch is not None:
        env[scratch] = graph.placeholder(SCRATCH)

    def look(node: torch.fx.Node) -> torch.fx.Node:
        if node not in env and node.op == "get_attr":
            env[node] = graph.get_attr(str(node.target))
        return env[node]

    for node in keep:
        env[node] = graph.node_copy(node, look)
    graph.output(look(result))
    return torch.fx.GraphModule(traced, graph)


def _ancestors(node: torch.fx.Node) -> set[torch.fx.Node]:
    seen: set[torch.fx.Node] = set()
    stack = [node]
    while stack:
        for arg in stack.pop().all_input_nodes:
            if arg not in seen:
                seen.add(arg)
                stack.append(arg)
    return seen


def split_chain(model: torch.nn.Module, inputs: list[Any]) -> tuple[MatmulProgram, MatmulProgram, list[str]] | str:
    """(first, second, forward args) or the reason in words."""
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as exc:
        return f"the model does not trace ({type(exc).__name__})"
    if any(not isinstance(v, torch.Tensor) for v in inputs):
        return "an input is not a tensor"
    _propagate_shapes(traced, inputs)
    nodes = list(traced.graph.nodes)
    products = [n for n in nodes if _is_matmul(traced, n)]
    if len(products) != 2:
        return f"{len(products)} matrix products (a chain of two is covered)"
    operand = products[1].args[0]
    if not isinstance(operand, torch.fx.Node) or operand.op in ("placeholder", "get_attr"):
        return "the second product's first operand is not computed from the first"
    before = _ancestors(operand) | {operand}
    cut = nodes.index(operand)
    computed = [n for n in nodes[:cut + 1] if n.op not in ("placeholder", "get_attr")]
    if products[0] not in before or any(n not in before for n in computed):
        return "ops before the second product that do not feed its operand"
    after = [n for n in nodes[cut + 1:] if n.op != "output"]
    if any(a in before and a.op not in ("placeholder", "get_attr") and a is not operand
           for n in after for a in n.all_input_nodes):
        return "a value of the first part is used after the second product"
    args = [n for n in nodes if n.op == "placeholder"]
    used_first = [p for p in args if p in before]
    used_second = [p for p in args if any(p in n.all_input_nodes for n in after)]
    output = next(n for n in nodes if n.op == "output")
    first_part = _part(traced, computed, operand, used_first, None)
    second_part = _part(traced, after, output.args[0], used_second, operand)  # type: ignore[arg-type]
    by_name = dict(zip([p.name for p in args], inputs, strict=True))
    first_inputs = [by_name[p.name] for p in used_first]
    with torch.no_grad():
        scratch = first_part(*first_inputs)
    try:
        first = lower_matmul_model(first_part, first_inputs)
        second = lower_matmul_model(second_part, [by_name[p.name] for p in used_second] + [scratch])
    except NotCovered as why:
        return str(why)
    if first is None or second is None:
        return "a part of the chain does not start with its product"
    if first.dtype != "float32":
        return f"a chain of products in {first.dtype}"
    return first, second, [p.name for p in args]


def _names(program: MatmulProgram, params: dict[str, int]) -> list[str]:
    return [f"self.p{params[s.name]}" if s.name.startswith("param:") else s.name for s in program.inputs]


def _launch(program: MatmulProgram, names: list[str], prefix: str, lib: str, out: str) -> list[str]:
    a, b = names[program.a], names[program.b]
    lines = _shape_lines(program, a, b) + _guard_lines(program, names)
    lines += [f"        {prefix}{i} = {name}.contiguous()" for i, name in enumerate(names)]
    lines.append(f"        {out} = torch.empty(out_shape, dtype=torch.float32, device={a}.device)")
    lines.append(f"        {lib}.akg_kernel({', '.join(f'{prefix}{i}' for i in range(len(names)))}, {out}, batch, M, N, K)")
    return lines


def chain_model_new(task: Task, first: MatmulProgram, second: MatmulProgram, args: list[str], params: GemmParams) -> str:
    names: dict[str, int] = {}
    specs = {s.name: s for p in (first, second) for s in p.inputs}
    for s in [*first.inputs, *second.inputs]:
        if s.name.startswith("param:") and s.name not in names:
            names[s.name] = len(args) + len(names)
    combined = [InputSpec(a, "full", ()) for a in args] + [specs[n] for n in names]
    chain = Chain(combined, first, second, [*first.ops, *second.ops])
    sources = [gemm_source(p, params) for p in (first, second)]
    kernel = "\n\n".join(f'KERNEL_SOURCE_{i} = r"""\n{s}"""\n\n_lib{i} = load_cpp(KERNEL_SOURCE_{i})' for i, s in enumerate(sources))
    body = _launch(first, _names(first, names), "_u", "_lib0", SCRATCH)
    body += _launch(second, _names(second, names), "_v", "_lib1", "out")
    imports = "import math\n\nfrom akg_agents.dsl.cpp_loader import load_cpp"
    label = f" (two packed GEMMs, {params.mr}x{params.nv} vector register tile)"
    return model_new_source(task, chain, imports, kernel, "\n".join(body), label)


def chain_candidates(task: Task, count: int, threads: int = 0) -> tuple[list[Candidate], str]:
    from akg_agents.builtin.precision import traced_inputs, traced_model

    module = types.ModuleType("akg_builtin_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), module.__dict__)
    torch.manual_seed(0)
    model = traced_model(module.Model(*module.get_init_inputs()).eval())
    try:
        split = split_chain(model, traced_inputs(list(module.get_inputs())))
    except Exception as exc:  # a graph this cut does not understand: the loop nests serve the task
        split = f"the chain could not be cut ({type(exc).__name__}: {str(exc).splitlines()[0][:80] if str(exc) else ''})"
    if isinstance(split, str):
        return [], split
    first, second, args = split
    candidates: list[Candidate] = []
    seen: set[tuple[str, str]] = set()
    try:
        for params in GEMM_VARIANTS:
            if len(candidates) >= max(count, 1):
                break
            # Record the flags as applied (to either product): meaningless for transposed operands.
            params = GemmParams(**{**params.__dict__, "threads": threads,
                                   "a_in_place": params.a_in_place and not (first.a_transposed and second.a_transposed),
                                   "b_in_place": params.b_in_place and not (first.b_transposed and second.b_transposed)})
            sources = (gemm_source(first, params), gemm_source(second, params))
            if sources in seen:  # an in-place flag that does not apply to these operands
                continue
            seen.add(sources)
            index = len(candidates)
            candidates.append(Candidate(
                id=f"builtin-gemm-chain-{index}", dsl="cpp", code=chain_model_new(task, first, second, args, params),
                agent="builtin", step=index, params={"generator": "gemm_chain", **params.__dict__},
                note=f"two packed GEMMs ({first.M}x{first.N}x{first.K}, then {second.M}x{second.N}x{second.K}) "
                     f"for {', '.join(dict.fromkeys([*first.ops, *second.ops]))}",
            ))
    except EpilogueNotCovered as why:
        return [], str(why)
    return candidates, ""
