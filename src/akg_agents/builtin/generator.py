"""The built-in (LLM-free) generator: task -> RowProgram -> candidate modules for a DSL.

It traces the task's Model with torch.fx on the task's own inputs (the task has already been
validated in the sandbox, so it is known to run), lowers the graph (lower.py) and emits one
candidate per parameter setting. The candidate embeds the task's module (its Model class, under
its own name, so KernelBench's `super(Model, self).__init__()` still resolves) and takes its
parameters from an instance of it: parameters are then created exactly as Model creates them,
whatever initializer the task uses.
"""

from __future__ import annotations

import ast
import importlib
import itertools
import types
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

import torch

from akg_agents.builtin.cpp_codegen import CppParams, cpp_forward, generate_cpp
from akg_agents.builtin.ir import InputSpec, RowProgram
from akg_agents.builtin.lower import NotCovered, lower_model
from akg_agents.builtin.precision import check_precision, traced_inputs, traced_model, tracing_precision
from akg_agents.builtin.rowwrap import HELPERS, constants_of, init_guard
from akg_agents.records import Candidate, Task

TASK_ONLY_FUNCTIONS = {"get_inputs", "get_init_inputs", "get_inputs_dyn_list"}
EMBEDDED_MODEL = "_TaskModel"


def trace_program(task: Task) -> RowProgram:
    module = types.ModuleType("akg_builtin_task")
    exec(compile(task.source, f"<task {task.name}>", "exec"), module.__dict__)
    torch.manual_seed(0)
    init = list(module.get_init_inputs())
    model = traced_model(module.Model(*init).eval())
    inputs = traced_inputs(list(module.get_inputs()))
    program = lower_model(model, inputs)
    program.constants = constants_of(model)  # the kernel bakes in constants that came from these
    return program


def embedded_task_source(task: Task) -> str:
    """The task's module without its input functions, then `_TaskModel = Model`.

    `Model` keeps its name: the task's own code refers to it (KernelBench writes
    `super(Model, self).__init__()`, and `Model` may be bound by an assignment rather than a
    class statement), so renaming the class would break it. ModelNew builds `_TaskModel`, an
    alias that the task's code cannot shadow by accident. `from __future__` imports are left
    out here (they must open a module; `future_imports` gives them to the candidate's header).
    """
    tree = ast.parse(task.source)
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in TASK_ONLY_FUNCTIONS:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            continue
        kept.append(node)
    return ast.unparse(ast.Module(body=kept, type_ignores=[])) + f"\n{EMBEDDED_MODEL} = Model"


def future_imports(task: Task) -> str:
    """The task's `from __future__ import ...` lines (they must open the candidate module)."""
    tree = ast.parse(task.source)
    lines = [ast.unparse(n) for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    return "".join(line + "\n" for line in lines)


def _forward_args(program: KernelProgram) -> list[str]:
    return [spec.name for spec in program.inputs if not spec.name.startswith("param:")]


def _param_attr(index: int) -> str:
    return f"p{index}"


class KernelProgram(Protocol):
    """What the ModelNew template needs of a program (RowProgram, MatmulProgram)."""

    inputs: list[InputSpec]
    ops: list[str]


def launch_args(program: KernelProgram) -> list[str]:
    """The kernel's pointer arguments, in program.inputs order, then out: the same for every DSL."""
    names = [f"self.{_param_attr(i)}" if s.name.startswith("param:") else s.name for i, s in enumerate(program.inputs)]
    return [*names, "out"]


def model_new_source(task: Task, program: KernelProgram, imports: str, kernel_block: str, body: str, label: str,
                     init_guard: str = "") -> str:
    """The candidate module around a generated kernel; only `imports`, `kernel_block` (module-level
    code defining the kernel), `body` (forward's lines allocating `out` and launching) and
    `init_guard` (__init__'s lines after the task's Model is built as `reference`, refusing a
    Model whose constants differ from those the kernel bakes in) differ."""
    args = _forward_args(program)
    params = [(i, spec.name.split(":", 1)[1]) for i, spec in enumerate(program.inputs) if spec.name.startswith("param:")]
    init_lines = [f"        self.{_param_attr(i)} = _tensor_of(reference, {name!r})" for i, name in params]
    contiguous = "\n".join(f"        {a} = {a}.contiguous()" for a in args)
    summary = ", ".join(dict.fromkeys(program.ops)) or "identity"
    return f'''{future_imports(task)}import torch
import torch.nn as nn
{imports}

# ---- The task's Model, embedded so that ModelNew creates its parameters exactly as Model does.
{embedded_task_source(task)}
# ---- end of the task's Model.

{kernel_block}


def _tensor_of(module, name):
    owner, _, leaf = name.rpartition(".")
    holder = module.get_submodule(owner) if owner else module
    return getattr(holder, leaf)


class ModelNew(nn.Module):
    """Generated by akg_agents' built-in generator{label}: {summary}."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        reference = {EMBEDDED_MODEL}(*args, **kwargs)
{init_guard}{chr(10).join(init_lines) if init_lines else "        del reference"}

    def forward(self, {", ".join(args)}):
{contiguous}
{body}
        return out
'''


def cpp_model_new(task: Task, program: RowProgram, params: CppParams) -> str:
    kernel = f'{HELPERS}\n\nKERNEL_SOURCE = r"""\n{generate_cpp(program, params)}"""\n\n_lib = load_cpp(KERNEL_SOURCE)'
    imports = "import math\n\nfrom akg_agents.dsl.cpp_loader import load_cpp"
    return model_new_source(task, program, imports, kernel, cpp_forward(program), "", init_guard=init_guard(program))


def cpp_variants(threads: int) -> list[CppParams]:
    """Default first, then the same without streaming stores, then the rest of a small grid."""
    default = CppParams(threads=threads)
    grid = [CppParams(threads, block, unroll, stream) for stream in (False, True)
            for block, unroll in itertools.product((4096, 16384, 1024), (2, 1, 4, 0))]
    return [default, *[p for p in grid if p != default]]


def cpp_candidates(task: Task, count: int, threads: int = 0) -> list[Candidate]:
    try:
        program = trace_program(task)
    except NotCovered as row_reason:
        return _poly_fallback(task, count, threads, row_reason)
    candidates: list[Candidate] = []
    seen: set[str] = set()
    for params in cpp_variants(threads):
        if len(candidates) >= max(count, 1):
            break
        code = cpp_model_new(task, program, params)
        if code in seen:  # e.g. `stream` only changes flat programs: no duplicate evaluations
            continue
        seen.add(code)
        index = len(candidates)
        summary = ", ".join(dict.fromkeys(program.ops)) or "identity"
        candidates.append(
            Candidate(
                id=f"builtin-{index}",
                dsl="cpp",
                code=code,
                agent="builtin",
                step=index,
                params=_params_dict(params),
                note=f"row program ({len(program.reductions)} reductions) for {summary}",
            )
        )
    return candidates


def _poly_fallback(task: Task, count: int, threads: int, row_reason: NotCovered) -> list[Candidate]:
    """Products and convolutions (and chains of them) as PolyTOPS-scheduled loop nests
    (poly_cpp.py); the row program's reason stands when the task has no product either."""
    from akg_agents.builtin.cpp_gemm import race_with_gemm
    from akg_agents.builtin.poly_cpp import NoProduct, poly_candidates

    try:
        return race_with_gemm(task, count, threads, poly_candidates)
    except NoProduct:
        raise row_reason from None


# One code generator per DSL, imported only when asked for (the Triton one needs no triton to
# generate, but keeps GPU concerns out of CPU runs). A DSL missing here is declined plainly.
CODEGENS: dict[str, str] = {
    "cpp": "akg_agents.builtin.generator:cpp_candidates",
    "triton_cuda": "akg_agents.builtin.triton_codegen:triton_candidates",
}


def generate(task: Task, dsl: str, count: int, threads: int = 0, precision: str = "fp32") -> list[Candidate]:
    """Up to `count` candidates; raises NotCovered with a plain reason when the task is out of scope.
    `precision`: KernelBench's option the task will be verified in (fp32, fp16, bf16): the task is
    traced with its floating inputs and parameters cast to it, as the verifier runs it, so the
    kernels are specialized and guarded for that dtype (builtin/precision.py)."""
    with tracing_precision(check_precision(precision)):
        return _generate(task, dsl, count, threads)


def _generate(task: Task, dsl: str, count: int, threads: int) -> list[Candidate]:
    target = CODEGENS.get(dsl)
    if target is None:  # a DSL plugin may bring its own (triton_ascend adapts the Triton generator)
        from akg_agents.dsl import get_plugin

        own: Callable[..., list[Candidate]] | None = getattr(get_plugin(dsl), "builtin_candidates", None)
        if own is None:
            raise NotCovered(f"the built-in generator writes {' and '.join(CODEGENS)}, not {dsl}")
        return own(task, count, threads=threads)
    from akg_agents.builtin.families import layer_candidates  # one pooling / convolution layer

    layer = layer_candidates(task, dsl, count, threads=threads)
    if layer is not None:
        return layer
    module, name = target.split(":")
    make: Callable[..., list[Candidate]] = getattr(importlib.import_module(module), name)
    return make(task, count, threads=threads)


def _params_dict(params: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(params).items()}
