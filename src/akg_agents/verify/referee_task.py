"""Inside the referee: validate a task, compute its reference outputs, time its baselines.

Everything here runs the user's own task code (trusted), never a candidate's.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import secrets
import types
from dataclasses import dataclass, field
from typing import Any

import torch

from akg_agents.dsl.registry import backend_for_device
from akg_agents.records import Mismatch
from akg_agents.verify.compare import (
    DTYPE_WORDS,
    REJUDGED_DTYPES,
    Tolerance,
    compare_tensor,
    reference_error,
    reference_error_problem,
    same_bits,
    tolerance_for,
)
from akg_agents.verify.taskrun import (
    REQUIRED,
    OutputCheckError,
    aliased_inputs,
    build_model,
    case_inputs,
    case_labels,
    load_module,
    make_inputs,
    make_timer,
    plain_outputs,
    set_tf32,
    sync,
)

POOL_BYTES = 768 * 2**20  # fresh input sets (and their outputs) a CPU referee keeps ready
SCALARS = (int, float, bool, type(None))


class ReferenceFailed(Exception):
    def __init__(self, status: str, message: str, log: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.log = status, message, log


@dataclass
class PreparedTask:
    digest: str
    device: str
    precision: str
    seeds: list[int]
    module: types.ModuleType
    model: Any
    references: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    # CPU: fresh input sets drawn ahead, with their reference outputs: (seed, inputs, outputs).
    # Drawing inputs costs more than the calls on a CPU; drawn once per task, each set is handed
    # to a candidate's timed call at most once, through shared memory.
    pool: list[tuple[int, list[Any], list[torch.Tensor]]] = field(default_factory=list)

    scales: dict[int, float] = field(default_factory=dict)
    case_inputs: dict[str, list[Any]] = field(default_factory=dict)  # CPU: the seeds' inputs
    # The references' own rounding error (float64 recomputation minus reference, float32, in host
    # memory), computed on a candidate's first mismatch: per case ("case:seed0") and CPU pool
    # entry ("pool:3"), or why it cannot be; a fresh timed seed's ("fresh:N") only until the next.
    corrections: dict[str, list[torch.Tensor | None] | str] = field(default_factory=dict)
    fresh_correction: tuple[str, list[torch.Tensor | None] | str] | None = None

    def scale_of(self, ref: torch.Tensor) -> float | None:
        """The RMS magnitude of a kept reference output (computed once), None for others."""
        kept = any(ref is t for outs in self.references.values() for t in outs) or any(ref is t for _, _, outs in self.pool for t in outs)
        if not kept:
            return None
        if id(ref) not in self.scales:
            from akg_agents.verify.compare import rms

            self.scales[id(ref)] = rms(ref)
        return self.scales[id(ref)]

    def build_pool(self, wanted: int) -> None:
        if not backend_for_device(self.device).host_memory or wanted <= 0:  # input slots are host memory
            return
        with torch.no_grad():
            first = make_inputs(self.module, self.seeds[0], self.device, self.precision)
            if not all(isinstance(v, SCALARS) or (isinstance(v, torch.Tensor) and v.is_contiguous()) for v in first):
                return  # odd inputs (strided views, lists): timed calls draw inputs by seed instead
            entry_bytes = sum(t.numel() * t.element_size() for t in [*first, *self.references[f"seed{self.seeds[0]}"]]
                              if isinstance(t, torch.Tensor))
            count = min(wanted, max(POOL_BYTES // max(entry_bytes, 1), 0))
            while len(self.pool) < count:
                seed = secrets.randbits(62)
                inputs = make_inputs(self.module, seed, self.device, self.precision)
                pristine = [v.clone() if isinstance(v, torch.Tensor) else v for v in inputs]  # forward may change them
                outputs = [t.detach().contiguous().clone() for t in plain_outputs(self.model(*inputs))]
                self.pool.append((seed, pristine, outputs))

    def seed_of(self, case: str) -> int:
        return int(case[4:]) if case.startswith("seed") else self.seeds[0]

    def outputs_for_seed(self, seed: int) -> list[torch.Tensor]:
        if f"seed{seed}" in self.references:
            return self.references[f"seed{seed}"]
        with torch.no_grad():
            inputs = make_inputs(self.module, seed, self.device, self.precision)
            return [t.detach().contiguous() for t in plain_outputs(self.model(*inputs))]

    def reference_errors(self, key: str, expected: list[torch.Tensor]) -> list[torch.Tensor | None] | str:
        """Per output, `compare.reference_error` of the reference `expected` computed for `key`'s
        inputs (None for an output it does not apply to); or why there is none, in a few words."""
        if key in self.corrections:
            return self.corrections[key]
        if self.fresh_correction is not None and self.fresh_correction[0] == key:
            return self.fresh_correction[1]
        self.fresh_correction = None  # free the last fresh seed's first
        try:
            with torch.no_grad():
                found: list[torch.Tensor | None] | str = self._reference_errors(key, expected)
            transient = False
        except (torch.cuda.OutOfMemoryError, MemoryError):
            found, transient = "not enough memory to recompute the reference in float64", True
        finally:
            release_cached_memory()  # the float64 model, inputs and outputs are gone
        if key.startswith("fresh:"):
            self.fresh_correction = (key, found)
        elif not transient:  # memory may be free next time: try again then
            self.corrections[key] = found
        return found

    def _reference_errors(self, key: str, expected: list[torch.Tensor]) -> list[torch.Tensor | None] | str:
        try:
            inputs = self._inputs_of(key)
        except ReferenceFailed as failed:
            return failed.message
        for index, value in enumerate(inputs):  # float64 copies; the kept inputs stay as drawn
            if isinstance(value, torch.Tensor):
                inputs[index] = value.to(torch.float64) if value.is_floating_point() else value.clone()
        previous = torch.get_default_dtype()
        try:
            model = copy.deepcopy(self.model).to(torch.float64) if isinstance(self.model, torch.nn.Module) else self.model
            torch.set_default_dtype(torch.float64)  # constants the forward creates, too
            outputs = plain_outputs(model(*inputs))
            sync(self.device)
        except (torch.cuda.OutOfMemoryError, MemoryError):
            raise
        except Exception as exc:  # an op without float64 support, a forward that insists on its dtype
            return f"the model cannot run in float64 ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''})"
        finally:
            torch.set_default_dtype(previous)
        del model, inputs
        if len(outputs) != len(expected):
            return f"the model returns {len(outputs)} outputs in float64, not {len(expected)}"
        for index, (ref, out) in enumerate(zip(expected, outputs, strict=True)):
            if ref.is_floating_point() and out.dtype != torch.float64:
                return f"the model's output {index} is {str(out.dtype).removeprefix('torch.')} when it runs in float64"
        errors: list[torch.Tensor | None] = []
        for ref in expected:
            correction = reference_error(ref, outputs.pop(0))  # each float64 output dropped once used
            problem = None if correction is None else reference_error_problem(ref, correction)
            if problem is not None:
                return problem
            errors.append(correction)
        return errors

    def _inputs_of(self, key: str) -> list[Any]:
        """The inputs the reference for `key` was computed from, as drawn (fresh tensors)."""
        kind, _, name = key.partition(":")
        if kind == "pool":
            return list(self.pool[int(name)][1])
        if kind == "case":
            kept = self.case_inputs.get(name)
            return list(kept) if kept is not None else _inputs(self.module, name, self.seeds, self.device, self.precision)
        return make_inputs(self.module, int(name), self.device, self.precision)

    def slot_bytes(self) -> list[int]:
        sizes: list[int] = []
        for outputs in self.references.values():
            for index, tensor in enumerate(outputs):
                nbytes = tensor.numel() * tensor.element_size()
                if index == len(sizes):
                    sizes.append(nbytes)
                else:
                    sizes[index] = max(sizes[index], nbytes)
        return sizes

    def sync(self) -> None:
        sync(self.device)


def float64_look(task: PreparedTask, key: str, expected: list[torch.Tensor], index: int, actual: torch.Tensor,
                 tol: Tolerance, scale: float | None, problem: Mismatch) -> Mismatch | None:
    """Judge a mismatching output again against the float64 reference, PyTorch's own error
    allowed (compare.py); None when it passes so. A NaN/Inf or shape mismatch stays as it is;
    the evidence of a failure says what the second look found."""
    ref = expected[index]
    if ref.dtype not in REJUDGED_DTYPES or not math.isfinite(problem.abs_err):
        return problem
    # `actual` is the candidate's memory (a shared slot, an IPC handle): judged as a copy, and only
    # if it still is what failed the first comparison and is unchanged after the recomputation. A
    # write landing after the call returned (a forked child, a stream still running) must not pass
    # for the call's own work, however long the float64 recomputation gives it.
    try:
        kept = actual.clone()
    except (torch.cuda.OutOfMemoryError, MemoryError):
        return dataclasses.replace(problem, detail=f"{problem.detail}; no float64 re-check: not enough memory to copy the output")
    again = compare_tensor(ref, kept, problem.seed, index, tol, scale)
    if again is None or again.bad_count != problem.bad_count:
        return dataclasses.replace(problem, detail=f"{problem.detail}; the output changed after it was submitted")
    errors = task.reference_errors(key, expected)
    correction = errors if isinstance(errors, str) else errors[index]
    if correction is None or isinstance(correction, str):
        why = correction or "the float64 output does not have the reference's shape"
        return dataclasses.replace(problem, detail=f"{problem.detail}; no float64 re-check: {why}")
    if compare_tensor(ref, kept, problem.seed, index, tol, scale, correction) is None:
        if not same_bits(kept, actual):
            return dataclasses.replace(problem, detail=f"{problem.detail}; the output changed after it was submitted")
        return None
    return dataclasses.replace(problem, detail=f"{problem.detail}; it also differs from the float64 reference by more "
                               f"than the tolerance plus the {DTYPE_WORDS[ref.dtype]} reference's own error")


def release_cached_memory() -> None:
    """Blocks the caching allocator keeps are the candidate's to use, not the referee's."""
    import gc

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.empty_cache()


def _load(source: str) -> types.ModuleType:
    try:
        module = load_module(source, "akg_task")
    except SystemExit as exc:
        raise ReferenceFailed("compile_error", f"the task called exit({exc.code}) while being imported") from None
    except Exception as exc:
        raise ReferenceFailed("compile_error", f"the task does not import: {exc!r}") from None
    for required in REQUIRED:
        if not hasattr(module, required):
            raise ReferenceFailed("compile_error", f"the task defines no `{required}`")
    return module


def _too_big(device: str, exc: BaseException) -> ReferenceFailed:
    backend = backend_for_device(device)
    if not backend.host_memory:
        where = f"{backend.device_name()} ({backend.memory_capacity() / 2**30:.0f} GiB)"
    else:
        where = "the worker's memory limit"
    return ReferenceFailed("runtime_error", f"the task does not fit on {where}: {str(exc).splitlines()[0][:160]}")


def prepare(request: dict[str, Any]) -> PreparedTask:
    device, precision = str(request["device"]), str(request.get("precision", "fp32"))
    seeds = [int(s) for s in request["seeds"]]
    threads = int(request.get("threads", 0))
    if threads > 0:
        torch.set_num_threads(threads)
    set_tf32(bool(request.get("allow_tf32", False)))
    module = _load(str(request["task_source"]))
    try:
        cases = case_labels(module, seeds)
    except Exception as exc:
        raise ReferenceFailed("runtime_error", f"get_inputs_dyn_list() raised {exc!r}") from None
    try:
        with torch.no_grad():
            return _prepare(request, module, cases, device, precision, seeds)
    except (torch.cuda.OutOfMemoryError, MemoryError) as exc:
        raise _too_big(device, exc) from None


def _prepare(request: dict[str, Any], module: types.ModuleType, cases: list[str], device: str, precision: str,
             seeds: list[int]) -> PreparedTask:
    try:
        model = build_model(module.Model, module, device, precision)
    except (torch.cuda.OutOfMemoryError, MemoryError):
        raise
    except Exception as exc:
        raise ReferenceFailed("runtime_error", f"Model(*get_init_inputs()) raised {exc!r}") from None
    task = PreparedTask(str(request["digest"]), device, precision, seeds, module, model)
    info: dict[str, Any] = {"cases": cases, "mutated_inputs": [], "aliases": []}
    for case in cases:
        inputs = _inputs(module, case, seeds, device, precision)
        before = [v.clone() if isinstance(v, torch.Tensor) else None for v in inputs]
        outputs = _forward(model, inputs, case, device)
        if case == cases[0]:
            info["aliases"] = aliased_inputs(outputs, inputs)
            info["mutated_inputs"] = [i for i, (old, new) in enumerate(zip(before, inputs, strict=True))
                                      if old is not None and not same_bits(old, new)]
            info["input_shapes"] = [list(v.shape) for v in inputs if isinstance(v, torch.Tensor)]
            info["input_bytes"] = sum(v.numel() * v.element_size() for v in inputs if isinstance(v, torch.Tensor))
            info["output_shapes"] = [list(t.shape) for t in outputs]
            info["output_dtypes"] = [str(t.dtype).removeprefix("torch.") for t in outputs]
            info["output_bytes"] = sum(t.numel() * t.element_size() for t in outputs)
        if backend_for_device(device).host_memory and case.startswith("seed"):
            # handed to candidates through the input slots: as drawn, before forward changed any
            task.case_inputs[case] = [old if old is not None else new for old, new in zip(before, inputs, strict=True)]
        del before, inputs
        task.references[case] = [t.detach().contiguous().clone() for t in outputs]
        del outputs
    _check_deterministic(task, cases[0])
    task.build_pool(int(request.get("pool", 0)))
    info["pool"] = len(task.pool)
    info["device_name"] = backend_for_device(device).device_name()
    task.info = info
    return task


def _inputs(module: types.ModuleType, case: str, seeds: list[int], device: str, precision: str) -> list[Any]:
    try:
        return case_inputs(module, case, seeds, device, precision)
    except (torch.cuda.OutOfMemoryError, MemoryError):
        raise
    except Exception as exc:
        raise ReferenceFailed("runtime_error", f"get_inputs() raised {exc!r} (case {case})") from None


def _forward(model: Any, inputs: list[Any], case: str, device: str) -> list[torch.Tensor]:
    try:
        raw = model(*inputs)
        sync(device)
    except (torch.cuda.OutOfMemoryError, MemoryError):
        raise
    except Exception as exc:
        raise ReferenceFailed("runtime_error", f"Model raised on the inputs of case {case}: {exc!r}") from None
    try:
        return plain_outputs(raw)
    except OutputCheckError as exc:
        raise ReferenceFailed("runtime_error", f"Model.forward {exc}") from None


def _check_deterministic(task: PreparedTask, case: str) -> None:
    inputs = _inputs(task.module, case, task.seeds, task.device, task.precision)
    torch.manual_seed(7919)  # forward must not depend on the RNG state
    again = _forward(task.model, inputs, case, task.device)
    for index, (ref, out) in enumerate(zip(task.references[case], again, strict=True)):
        # Bit-identical runs are not required: some of PyTorch's own GPU kernels (cuDNN's 3-D
        # transposed convolutions) sum with atomics in a varying order. Randomness in forward
        # (dropout, a fresh randn) differs by far more than the output's tolerance.
        if compare_tensor(ref, out, task.seeds[0], index, tolerance_for(ref.dtype)) is not None:
            raise ReferenceFailed(
                "mismatch",
                "the task is not deterministic: two runs on the same inputs gave different outputs "
                "(keep randomness in get_inputs(), out of forward)",
            )


def baselines(request: dict[str, Any], task: PreparedTask) -> dict[str, Any]:
    """Eager (and torch.compile) times on the first case, interleaved: a task's reported baseline."""
    from akg_agents.profile.timer import time_interleaved

    inputs = _inputs(task.module, f"seed{task.seeds[0]}", task.seeds, task.device, task.precision)
    model = task.model
    calls = [lambda: model(*inputs)]
    if request.get("baseline_compile"):
        compiled = torch.compile(model)
        calls.append(lambda: compiled(*inputs))
    timings = time_interleaved(calls, int(request.get("warmup", 1)), int(request.get("time_runs", 5)), make_timer(task.device))
    result: dict[str, Any] = {"eager_ms": timings[0].median_ms, "eager_spread_ms": timings[0].spread_ms}
    if len(timings) > 1:
        result["compile_ms"] = timings[1].median_ms
        result["compile_spread_ms"] = timings[1].spread_ms
    return result


def estimate(request: dict[str, Any]) -> dict[str, Any]:
    """Bytes of the task's inputs and outputs from a dry run on the meta device (no memory, no
    math), so a task can be shrunk or refused before it ever runs at full size."""
    module = _load(str(request["task_source"]))
    nbytes = _meta_bytes(module)
    capacity = backend_for_device(str(request["device"])).memory_capacity()  # the device's, or the host's
    return {"input_bytes": nbytes[0], "output_bytes": nbytes[1], "capacity_bytes": capacity}


def _meta_bytes(module: types.ModuleType) -> tuple[int | None, int | None]:
    def size(values: list[Any]) -> int:
        return sum(v.numel() * v.element_size() for v in values if isinstance(v, torch.Tensor))

    try:
        with torch.device("meta"):
            inputs = list(module.get_inputs())
    except Exception:
        return None, None
    try:
        with torch.device("meta"), torch.no_grad():
            model = module.Model(*module.get_init_inputs())
            outputs = plain_outputs(model(*inputs))
    except Exception:  # an op without a meta kernel: outputs unknown, inputs still count
        return size(inputs), None
    return size(inputs), size(outputs)


def quick_eager_ms(request: dict[str, Any]) -> float:
    """Eager time of the first seed's inputs, for shrinking a task to a time budget: no
    references, a handful of runs."""
    from akg_agents.profile.timer import time_interleaved

    device, precision = str(request["device"]), str(request.get("precision", "fp32"))
    set_tf32(bool(request.get("allow_tf32", False)))
    module = _load(str(request["task_source"]))
    with torch.no_grad():
        model = build_model(module.Model, module, device, precision)
        inputs = make_inputs(module, int(request["seed"]), device, precision)
        timing = time_interleaved([lambda: model(*inputs)], 1, 3, make_timer(device))[0]
    return timing.median_ms
