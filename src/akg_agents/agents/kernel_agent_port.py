"""Porting: an existing kernel becomes the reference of a task, so its outputs are the ground truth.

The verifier's trusted referee computes reference outputs by running the task's `Model` on the
task's inputs, in its own process, before any candidate is loaded. A kernel to port (a module in
our candidate format: `ModelNew`, with CUDA C, Triton or C++ inside) is turned into exactly such a
task, so nothing in the referee changes:

    # inputs and sizes: from the kernel file itself, or from a KernelBench task (--task T.py)
    <T.py, unchanged: its get_inputs(), get_init_inputs() and size constants>
    # the reference kernel, unchanged
    <K.py>
    class Model(ModelNew): ...      # the reference IS the kernel: the referee runs it as Model

The kernel runs where the referee runs, exactly like a task file a user wrote: it is the user's
own code, trusted as the reference (candidates stay confined). The task's PyTorch `Model`, when a
task gave the inputs, is shadowed: only the kernel decides what is correct. A new kernel in
another DSL or on another backend is then verified against the existing one's outputs.
"""

from __future__ import annotations

import ast
from pathlib import Path

from akg_agents.errors import TaskError
from akg_agents.records import Task
from akg_agents.tasks.loader import check_task_source, module_bindings

INPUTS = ("get_inputs", "get_init_inputs")
MARK = "# akg_agents: reference kernel task"


def kernel_bindings(source: str, where: str) -> set[str]:
    """The kernel's top-level names; one line when it does not parse or defines no ModelNew."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TaskError(f"{where}: syntax error on line {exc.lineno}: {exc.msg}") from None
    names, _ = module_bindings(tree.body)
    if "ModelNew" not in names:
        raise TaskError(f"{where}: not a kernel in the candidate format: it defines no `ModelNew`",
                        hint="a kernel to port is a Python module with class ModelNew(nn.Module) launching its kernels")
    return names


def has_own_inputs(source: str) -> bool:
    names, _ = module_bindings(ast.parse(source).body)
    return all(name in names for name in INPUTS)


def reference_task(kernel_source: str, kernel_name: str, inputs: Task | None = None) -> Task:
    """A KernelBench-format task whose Model is the kernel. `inputs`: the task giving inputs and
    sizes when the kernel file has no get_inputs/get_init_inputs of its own."""
    names = kernel_bindings(kernel_source, kernel_name)
    own = all(name in names for name in INPUTS)
    if not own and inputs is None:
        raise TaskError(f"{kernel_name} defines no get_inputs()/get_init_inputs(): the inputs to run it on are unknown",
                        hint="give a KernelBench task for its inputs (--task T.py; the kernel replaces its Model)")
    parts = [f"{MARK}: the outputs of {Path(kernel_name).name} are the ground truth.",
             "# Port it: a new kernel must compute exactly what this reference Model computes."]
    if inputs is not None and not own:
        parts += [f"# --- inputs and sizes (from {Path(inputs.path).name or inputs.name}) ---", inputs.source.rstrip(), ""]
    parts += [f"# --- the reference kernel ({Path(kernel_name).name}), unchanged ---", kernel_source.rstrip(), "",
              "", "class Model(ModelNew):  # noqa: F811  (the reference is the kernel itself)",
              f'    """The existing kernel from {Path(kernel_name).name}: its outputs are the ground truth."""', ""]
    source = "\n".join(parts)
    check_task_source(source, f"the task made from {kernel_name}")
    stem = Path(kernel_name).stem if kernel_name else "kernel"
    name = f"{inputs.name}_from_{stem}" if inputs is not None and not own else f"{stem}_ref"
    return Task(name=name.replace("-", "_"), source=source, path="")


def reference_task_from_file(kernel: Path, inputs: Task | None = None) -> Task:
    if not kernel.is_file():
        raise TaskError(f"reference kernel not found: {kernel}" if not kernel.exists() else f"{kernel} is a folder")
    try:
        source = kernel.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise TaskError(f"cannot read {kernel}: {exc}") from None
    return reference_task(source, str(kernel), inputs)


def is_reference_task(task: Task) -> bool:
    return task.source.startswith(MARK)


def save_task(task: Task, folder: Path) -> Task:
    """The made task on disk (run directories and `akg_cli op --task` can then name it)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task.name}.py"
    path.write_text(task.source)
    return Task(name=task.name, source=task.source, path=str(path.resolve()))
