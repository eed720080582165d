"""Static (AST) checks every candidate passes before it runs, whatever its DSL.

These catch the common ways a kernel can fake a speedup or hide a fallback; the worker repeats
the important ones at run time (torch ops recorded while `forward` runs, kernel launches
counted, inputs checked unchanged), so an AST trick that slips past here is still caught there.
"""

from __future__ import annotations

import ast

from akg_agents.dsl.base import DslPlugin, Violation, dotted_name, walk_calls

FORBIDDEN_MODULES = {
    "threading": "no threads: the kernel must do the work in the timed call",
    "multiprocessing": "no extra processes",
    "concurrent": "no thread or process pools",
    "subprocess": "no subprocesses",
    "asyncio": "no background tasks",
    "gc": "no walking the heap (it can find the reference outputs)",
    "inspect": "no frame inspection",
    "signal": "no signal handlers",
    "time": "no access to timers",
    "timeit": "no access to timers",
    "builtins": "no patching of builtins",
    "importlib": "no dynamic imports",
    "pickle": "no loading of saved tensors",
    "zipfile": "no reading saved tensors from disk",
    "pathlib": "no file access: the answer must be computed",
    "shutil": "no file access",
    "glob": "no file access",
    "mmap": "no file access",
}
FORBIDDEN_ATTRS = {
    "torch._C": "torch internals are off limits",
    "torch.utils._python_dispatch": "dispatch internals are off limits",
    "torch.cuda.Stream": "no extra streams: work on another stream escapes the timer",
    "torch.cuda.stream": "no extra streams: work on another stream escapes the timer",
    "torch.cuda.set_stream": "no extra streams",
    "torch.load": "no loading of saved tensors",
    "torch.compile": "torch.compile is a baseline, not a kernel",
    "sys._getframe": "no frame inspection",
    "sys.modules": "no reaching into other modules",
}
# The only parts of akg_agents a candidate may import: the loaders that build its kernels. The
# rest (the worker, its channel to the referee, the timers) runs in the same process and must
# stay out of reach.
AKG_IMPORTS_ALLOWED = {"akg_agents.dsl.cpp_loader", "akg_agents.dsl.cuda_loader"}
# torch functions that do math: calling them in forward means PyTorch, not the kernel, computes.
TORCH_COMPUTE = {
    "matmul", "mm", "bmm", "addmm", "einsum", "conv1d", "conv2d", "conv3d", "relu", "gelu", "silu",
    "sigmoid", "tanh", "exp", "log", "softmax", "log_softmax", "sum", "mean", "max", "min", "amax",
    "amin", "var", "std", "norm", "layer_norm", "rms_norm", "add", "sub", "mul", "div", "pow", "sqrt",
    "rsqrt", "where", "clamp", "abs", "cumsum", "sort", "topk", "linear", "dropout", "erf",
}
TORCH_NAMESPACES = ("torch.", "F.", "torch.nn.functional.", "nn.functional.")


def check_source(code: str, plugin: DslPlugin) -> tuple[ast.Module | None, list[Violation]]:
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return None, [Violation("syntax", f"line {exc.lineno}: {exc.msg}", exc.lineno or 0)]
    violations = _forbidden_rules(tree)  # the most specific rule is reported first
    violations += _model_new_rules(tree)
    violations += plugin.static_check(tree, code)
    return tree, violations


def _model_new_rules(tree: ast.Module) -> list[Violation]:
    model_new = next(
        (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew"), None
    )
    if model_new is None:
        return [Violation("model-new", "the module must define `class ModelNew(nn.Module)`")]
    forward = next(
        (n for n in model_new.body if isinstance(n, ast.FunctionDef) and n.name == "forward"), None
    )
    if forward is None:
        return [Violation("model-new", "ModelNew has no forward method", model_new.lineno)]
    found: list[Violation] = []
    for call in walk_calls(forward):
        name = dotted_name(call.func)
        leaf = name.rsplit(".", 1)[-1]
        if name.startswith(TORCH_NAMESPACES) and leaf in TORCH_COMPUTE:
            found.append(
                Violation("torch-compute-in-forward", f"forward calls {name}(): the math must run in the kernel", call.lineno)
            )
    for node in ast.walk(forward):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            found.append(Violation("torch-compute-in-forward", "forward uses the @ operator", node.lineno))
    return found


def _imported_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


def _forbidden_rules(tree: ast.Module) -> list[Violation]:
    found: list[Violation] = []
    imported = _imported_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            line = getattr(node, "lineno", 0)
            found.append(Violation("no-try-except", "try/except is not allowed: no hidden fallbacks", line))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            found += _import_rules(node)
        elif isinstance(node, ast.Attribute):
            name = dotted_name(node)
            for prefix, why in FORBIDDEN_ATTRS.items():
                if name == prefix or name.startswith(prefix + "."):
                    found.append(Violation("forbidden-api", f"{name}: {why}", node.lineno))
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            found += _patching_rules(node, imported)
        elif isinstance(node, ast.Call) and dotted_name(node.func) in {"setattr", "delattr", "exec", "eval", "__import__", "globals", "open", "vars"}:
            found.append(Violation("no-patching", f"{dotted_name(node.func)}() is not allowed", node.lineno))
    return found


def _import_rules(node: ast.Import | ast.ImportFrom) -> list[Violation]:
    names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    found = []
    full = names if isinstance(node, ast.Import) else [f"{node.module}.{alias.name}" for alias in node.names]
    for name in full:
        if name.split(".")[0] == "akg_agents" and not any(name == ok or name.startswith(ok + ".") for ok in AKG_IMPORTS_ALLOWED):
            found.append(Violation("forbidden-import", f"import {name}: only the DSL loaders of akg_agents may be imported", node.lineno))
    for name in names:
        root = name.split(".")[0]
        if root in FORBIDDEN_MODULES:
            found.append(Violation("forbidden-import", f"import {name}: {FORBIDDEN_MODULES[root]}", node.lineno))
        if name.startswith("torch._C") or name.startswith("torch.utils._python_dispatch"):
            found.append(Violation("forbidden-import", f"import {name}: torch internals are off limits", node.lineno))
    if isinstance(node, ast.ImportFrom) and node.module == "sys":
        found.append(Violation("forbidden-import", "from sys import ...: no reaching into the interpreter", node.lineno))
    return found


def _patching_rules(node: ast.Assign | ast.AugAssign | ast.AnnAssign, imported: set[str]) -> list[Violation]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    found = []
    for target in targets:
        if isinstance(target, ast.Attribute):
            name = dotted_name(target)
            root = name.split(".")[0]
            if root in {"torch", "F", "nn", "time", "math", "sys", "os", "np", "numpy", "ctypes"} | imported:
                found.append(Violation("no-patching", f"assignment to {name}: no patching of libraries", node.lineno))
    return found
