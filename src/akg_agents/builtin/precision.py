"""KernelBench's precision option (fp32, fp16, bf16) as the built-in generators see it.

The verifier casts the task's floating inputs and the Model's parameters to the precision before
running both Model and the candidate (verify/taskrun.py: `cast`, `build_model`). The generators
trace the task to learn its shapes and dtypes, so they trace it cast the same way: a kernel is
then specialized for (and its guards name) the dtype it will run in, not the fp32 of the file.

    with tracing_precision("bf16"):
        candidates = ...               # every tracer below sees bf16 inputs and parameters

Tracers call `traced_model(model)` and `traced_inputs(inputs)` on what the task builds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import torch

PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
_CURRENT: ContextVar[str] = ContextVar("akg_builtin_precision", default="fp32")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    return precision


@contextmanager
def tracing_precision(precision: str) -> Iterator[None]:
    token = _CURRENT.set(check_precision(precision))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_precision() -> str:
    return _CURRENT.get()


def traced_model(model: Any) -> Any:
    """The task's Model as the verifier runs it: parameters and buffers cast to the precision
    (an nn.Module's `.to(dtype)` casts floating ones only)."""
    precision = _CURRENT.get()
    if precision != "fp32" and isinstance(model, torch.nn.Module):
        return model.to(PRECISIONS[precision])
    return model


def traced_inputs(inputs: list[Any]) -> list[Any]:
    """The task's inputs as the verifier makes them: floating tensors cast to the precision."""
    precision = _CURRENT.get()
    if precision == "fp32":
        return list(inputs)
    dtype = PRECISIONS[precision]
    return [v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for v in inputs]
