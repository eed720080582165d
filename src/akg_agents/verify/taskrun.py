"""Running a KernelBench task's code: load it, build its model, make its inputs.

Shared by the referee (reference outputs) and the sandboxed worker (candidate outputs, eager
baseline), so both sides build the same weights and the same inputs from the same seed.

Inputs are generated on the target device (`with torch.device(device)`): KernelBench level 1 has
6.4 GB inputs, which take seconds to draw on a CPU and milliseconds on a GPU. Both sides draw
them the same way, so the values agree bit for bit.
"""

from __future__ import annotations

import linecache
import sys
import types
from typing import Any

import torch

INIT_SEED = 1234  # weights are built under this seed for Model and ModelNew alike
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
REQUIRED = ("Model", "get_inputs", "get_init_inputs")


class OutputCheckError(Exception):
    pass


def load_module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    filename = f"<{name}>"
    module.__file__ = filename
    # Registered in linecache: Triton and TileLang read a kernel's source through inspect, and
    # tracebacks then show the module's own lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def case_labels(task: types.ModuleType, seeds: list[int]) -> list[str]:
    """What every candidate is checked on: `seedN` for each seed (get_inputs() under that seed)
    and `dynK` for each entry of get_inputs_dyn_list(), when the task has several shape cases."""
    labels = [f"seed{s}" for s in seeds]
    if hasattr(task, "get_inputs_dyn_list"):
        torch.manual_seed(seeds[0])
        labels += [f"dyn{k}" for k in range(len(task.get_inputs_dyn_list()))]
    return labels


def cast(values: list[Any], device: str, precision: str) -> list[Any]:
    """Move tensors to the device; floating ones take the task's precision (KernelBench's option)."""
    dtype = PRECISIONS[precision]
    moved = []
    for value in values:
        if isinstance(value, torch.Tensor):
            value = value.to(device)
            if value.is_floating_point() and precision != "fp32":
                value = value.to(dtype)
        moved.append(value)
    return moved


def use_device(device: str) -> None:
    """Load the device's runtime into this process before its first tensor (torch_npu registers
    the "npu" device type); a backend without an `activate` hook needs nothing."""
    from akg_agents.dsl.registry import backend_for_device

    activate = getattr(backend_for_device(device), "activate", None)
    if activate is not None:
        activate()


def make_inputs(task: types.ModuleType, seed: int, device: str, precision: str = "fp32", dyn: int | None = None) -> list[Any]:
    use_device(device)
    torch.manual_seed(seed)
    with torch.device(device):
        raw = task.get_inputs_dyn_list()[dyn] if dyn is not None else task.get_inputs()
    return cast(list(raw), device, precision)


def case_inputs(task: types.ModuleType, case: str, seeds: list[int], device: str, precision: str) -> list[Any]:
    if case.startswith("dyn"):
        return make_inputs(task, seeds[0], device, precision, dyn=int(case[3:]))
    return make_inputs(task, int(case.removeprefix("seed")), device, precision)


def build_model(cls: Any, task: types.ModuleType, device: str, precision: str = "fp32") -> Any:
    use_device(device)
    torch.manual_seed(INIT_SEED)
    init = list(task.get_init_inputs())
    model = cls(*init)
    if not isinstance(model, torch.nn.Module):
        return model
    model = model.to(device)
    if precision != "fp32":
        model = model.to(PRECISIONS[precision])
    # Left in the mode it was built in (training), as KernelBench's own harness does: BatchNorm
    # then normalizes with the batch's statistics, which is the problem KernelBench poses.
    return model


def plain_outputs(raw: Any) -> list[torch.Tensor]:
    """Normalize forward's result to a list of plain tensors, or explain what is wrong."""
    # Only plain tuples/lists hold several outputs; torch.Size or a namedtuple is one bad output.
    values = list(raw) if type(raw) in (tuple, list) else [raw]
    for index, value in enumerate(values):
        if not isinstance(value, torch.Tensor):
            kind = type(value).__name__
            article = "an" if kind[:1].lower() in "aeiou" else "a"
            raise OutputCheckError(f"returned {article} {kind} as output {index}, not a tensor")
        if type(value) is not torch.Tensor and not isinstance(value, torch.nn.Parameter):
            raise OutputCheckError(f"returned a tensor subclass ({type(value).__name__}) as output {index}")
    return values


def storage_span(tensor: torch.Tensor) -> tuple[int, int]:
    """[start, end) bytes of the memory a tensor can reach (for aliasing checks)."""
    if tensor.numel() == 0:
        return (0, 0)
    start = tensor.data_ptr()
    extent = 1 + sum((size - 1) * abs(stride) for size, stride in zip(tensor.shape, tensor.stride(), strict=True))
    return (start, start + extent * tensor.element_size())


def aliased_inputs(outputs: list[torch.Tensor], inputs: list[Any]) -> list[list[int]]:
    """For each output, the indices of the inputs whose memory it overlaps."""
    spans = [(i, storage_span(v)) for i, v in enumerate(inputs) if isinstance(v, torch.Tensor)]
    result = []
    for out in outputs:
        a0, a1 = storage_span(out)
        result.append([i for i, (b0, b1) in spans if a0 < b1 and b0 < a1])
    return result


def sync(device: str) -> None:
    """Wait for the whole device (every stream): the device's backend plugin knows how."""
    from akg_agents.dsl.registry import backend_for_device

    backend_for_device(device).synchronize()


def make_timer(device: str) -> Any:
    """The device's timer (events and a cache flush on a GPU or NPU, the host clock on the CPU)."""
    from akg_agents.dsl.registry import backend_for_device

    return backend_for_device(device).make_timer()


def set_tf32(allowed: bool) -> None:
    """fp32 means fp32 unless the task allows TF32: for the reference, eager and candidates alike
    (cuDNN convolutions default to TF32 on Ampere and later)."""
    torch.backends.cuda.matmul.allow_tf32 = allowed
    torch.backends.cudnn.allow_tf32 = allowed
