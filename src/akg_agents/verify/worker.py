"""The code that runs inside the sandboxed child process: one job, then exit.

Imports only the standard library, torch and akg_agents modules that need nothing else, so the
worker starts on any machine that can run the kernel. The parent never trusts this process: it
compares the outputs this writes against references computed by a separate process, and reads
a report that the child could only forge by breaking the AST and runtime checks first.
"""

from __future__ import annotations

import linecache
import math
import os
import sys
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import torch

from akg_agents.profile.timer import CpuTimer, time_interleaved
from akg_agents.records import ProfileResult, Status
from akg_agents.verify.compare import compare_outputs
from akg_agents.verify.guards import ForwardGuard, OutputCheckError, plain_outputs
from akg_agents.verify.protocol import CandidateJob, ReferenceJob, WorkerReport

INIT_SEED = 1234  # weights are built under this seed for Model and ModelNew alike
SUSPICIOUS_SPEEDUP = 10.0


class JobFailed(Exception):
    def __init__(self, status: Status, message: str, rule: str | None = None, log: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.rule, self.log = status, message, rule, log


def load_module(source: str, name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    filename = f"<{name}>"
    module.__file__ = filename
    # Registered in linecache: Triton and TileLang read a kernel's source through inspect, and
    # tracebacks then show the candidate's own lines.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    sys.modules[name] = module
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def _short_traceback(limit: int = 12) -> str:
    return "".join(traceback.format_exc().splitlines(keepends=True)[-limit:])


def _to_device(values: list[Any], device: str) -> list[Any]:
    return [v.to(device) if isinstance(v, torch.Tensor) else v for v in values]


def case_labels(task: types.ModuleType, seeds: list[int]) -> list[str]:
    """What every candidate is checked on: `seedN` for each seed (get_inputs() under that seed)
    and `dynK` for each entry of get_inputs_dyn_list(), when the task has several shape cases."""
    labels = [f"seed{s}" for s in seeds]
    if hasattr(task, "get_inputs_dyn_list"):
        torch.manual_seed(seeds[0])
        labels += [f"dyn{k}" for k in range(len(task.get_inputs_dyn_list()))]
    return labels


def _inputs(task: types.ModuleType, case: str, device: str, seeds: list[int] | None = None) -> list[Any]:
    if case.startswith("dyn"):
        torch.manual_seed((seeds or [0])[0])
        return _to_device(list(task.get_inputs_dyn_list()[int(case[3:])]), device)
    torch.manual_seed(int(case.removeprefix("seed")))
    return _to_device(list(task.get_inputs()), device)


def _build(cls: Any, task: types.ModuleType, device: str) -> Any:
    torch.manual_seed(INIT_SEED)
    init = list(task.get_init_inputs())
    model = cls(*init)
    return model.to(device).eval() if isinstance(model, torch.nn.Module) else model


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


# ---------------------------------------------------------------------------------------------
# Reference job: validate the task and write reference outputs.


def run_reference(job: ReferenceJob) -> WorkerReport:
    _set_threads(job.threads)
    try:
        task = load_module(job.task_source, "akg_task")
    except Exception as exc:
        raise JobFailed(Status.COMPILE_ERROR, f"the task does not import: {exc!r}", log=_short_traceback()) from None
    for required in ("Model", "get_inputs", "get_init_inputs"):
        if not hasattr(task, required):
            raise JobFailed(Status.COMPILE_ERROR, f"the task defines no `{required}`")
    with torch.no_grad():
        first: list[torch.Tensor] = []
        first_inputs: list[Any] = []
        first_model: Any = None
        try:
            cases = case_labels(task, job.seeds)
        except Exception as exc:
            raise JobFailed(Status.RUNTIME_ERROR, f"get_inputs_dyn_list() raised {exc!r}", log=_short_traceback()) from None
        for case in cases:
            model, inputs, outputs = _reference_outputs(task, case, job.device, job.seeds)
            if not first:
                first, first_inputs, first_model = outputs, inputs, model
                _check_deterministic(task, case, job.device, outputs)
            torch.save(outputs, os.path.join(job.out_dir, f"ref_{case}.pt"))
        model, inputs = first_model, first_inputs
        timing = time_interleaved([lambda: model(*inputs)], warmup=1, runs=job.time_runs, timer=_timer(job.device))[0]
    return WorkerReport(
        status="ok",
        cases=cases,
        input_shapes=[list(v.shape) for v in inputs if isinstance(v, torch.Tensor)],
        output_shapes=[list(t.shape) for t in first],
        output_dtypes=[str(t.dtype).replace("torch.", "") for t in first],
        eager_ms=timing.median_ms,
    )


def _reference_outputs(
    task: types.ModuleType, case: str, device: str, seeds: list[int], forward_seed: int | None = None
) -> tuple[Any, list[Any], list[torch.Tensor]]:
    try:
        model = _build(task.Model, task, device)
        inputs = _inputs(task, case, device, seeds)
        if forward_seed is not None:
            torch.manual_seed(forward_seed)  # forward must not depend on the RNG state
        raw = model(*inputs)
        _sync(device)
    except Exception as exc:
        raise JobFailed(Status.RUNTIME_ERROR, f"Model raised on the inputs of case {case}: {exc!r}", log=_short_traceback()) from None
    try:
        outputs = plain_outputs(raw)
    except OutputCheckError as exc:
        raise JobFailed(Status.RUNTIME_ERROR, f"Model.forward {exc}") from None
    return model, inputs, [t.detach().clone() for t in outputs]


def _check_deterministic(task: types.ModuleType, case: str, device: str, outputs: list[torch.Tensor]) -> None:
    _, _, again = _reference_outputs(task, case, device, [0], forward_seed=7919)
    for ref, out in zip(outputs, again, strict=True):
        if not torch.equal(torch.nan_to_num(ref), torch.nan_to_num(out)):
            raise JobFailed(
                Status.MISMATCH,
                "the task is not deterministic: two runs on the same inputs gave different outputs "
                "(keep randomness in get_inputs(), out of forward)",
            )


# ---------------------------------------------------------------------------------------------
# Candidate job: load, run on every seed under guards, self-check, profile.


def run_candidate(job: CandidateJob) -> WorkerReport:
    from akg_agents.dsl import get_plugin

    _set_threads(job.threads)
    plugin = get_plugin(job.dsl)
    if "cpp_extension" in job.candidate_code:
        # KernelBench-style load_inline candidates: import it before the plugin instruments it
        # (candidates cannot import it dynamically: importlib and __import__ are forbidden).
        import torch.utils.cpp_extension  # noqa: F401
    task = load_module(job.task_source, "akg_task")
    timings: dict[str, float] = {}
    with plugin.instrument() as launches:
        start = time.perf_counter()
        try:
            candidate = load_module(job.candidate_code, "akg_candidate")
        except Exception as exc:
            log = str(getattr(exc, "args", [""])[0]) if type(exc).__name__.endswith("CompileError") else _short_traceback()
            raise JobFailed(Status.COMPILE_ERROR, f"the candidate does not build: {type(exc).__name__}", log=log) from None
        timings["compile"] = time.perf_counter() - start
        if not hasattr(candidate, "ModelNew"):
            raise JobFailed(Status.REJECTED, "the candidate defines no ModelNew", rule="model-new")
        try:
            model = _build(candidate.ModelNew, task, job.device)
        except Exception as exc:
            raise JobFailed(Status.RUNTIME_ERROR, f"ModelNew(*get_init_inputs()) raised {exc!r}", log=_short_traceback()) from None
        start = time.perf_counter()
        inputs, verified = _verify_seeds(job, task, model, launches)
        timings["verify"] = time.perf_counter() - start
        profile, late_rule, late_message = None, None, ""
        if job.profile:
            start = time.perf_counter()
            try:
                profile = _profile(job, task, model, inputs, verified)
            except JobFailed as failed:
                late_rule, late_message = failed.rule, failed.message
            timings["profile"] = time.perf_counter() - start
    # Optional plugin hook (cpp: g++'s vectorization verdict per loop): evidence for tuning.
    notes_of = getattr(plugin, "compiler_notes", None)
    notes = notes_of() if notes_of is not None else ""
    return WorkerReport(status="ok", profile=profile, notes=notes, late_rule=late_rule, late_message=late_message,
                        timings_s=timings)


def _guarded_call(model: Any, inputs: list[Any], device: str, launches: Any) -> list[torch.Tensor]:
    before = launches.count()
    snapshot = [v.clone() if isinstance(v, torch.Tensor) else v for v in inputs]
    guard = ForwardGuard()
    try:
        with torch.no_grad(), guard:
            raw = model(*inputs)
            _sync(device)
    except Exception as exc:
        raise JobFailed(Status.RUNTIME_ERROR, f"forward raised {exc!r}", log=_short_traceback()) from None
    if guard.forbidden:
        ops = ", ".join(sorted(guard.forbidden)[:6])
        raise JobFailed(Status.REJECTED, f"forward ran PyTorch compute ops ({ops}); the math must run in the kernel", rule="torch-compute-in-forward")
    if launches.count() == before:
        raise JobFailed(Status.REJECTED, "forward returned without launching any kernel", rule="kernel-not-launched")
    for index, (old, new) in enumerate(zip(snapshot, inputs, strict=True)):
        if isinstance(old, torch.Tensor) and not torch.equal(torch.nan_to_num(old), torch.nan_to_num(new)):
            raise JobFailed(Status.REJECTED, f"forward modified input {index} in place", rule="inputs-unchanged")
    try:
        return [t.detach().clone() for t in plain_outputs(raw)]
    except OutputCheckError as exc:
        raise JobFailed(Status.REJECTED, f"forward {exc}", rule="plain-tensor-outputs") from None


def _verify_seeds(
    job: CandidateJob, task: types.ModuleType, model: Any, launches: Any
) -> tuple[list[Any], list[torch.Tensor]]:
    """Run every seed under the guards; returns the first seed's inputs and verified outputs."""
    first_inputs: list[Any] = []
    first_outputs: list[torch.Tensor] = []
    for position, case in enumerate(case_labels(task, job.seeds)):
        inputs = _inputs(task, case, job.device, job.seeds)
        outputs = _guarded_call(model, inputs, job.device, launches)
        if position == 0:
            first_inputs, first_outputs = inputs, outputs
            again = _guarded_call(model, _inputs(task, case, job.device, job.seeds), job.device, launches)
            problem = compare_outputs(outputs, again, job.seeds[0], job.atol, job.rtol)
            if problem is not None:
                raise JobFailed(Status.MISMATCH, "two runs on the same inputs disagree (a race, stale buffer or uninitialized read)", rule="self-consistency")
        torch.save([o.cpu() for o in outputs], os.path.join(job.out_dir, f"out_{case}.pt"))
    return first_inputs, first_outputs


def _timer(device: str) -> Any:
    if device.startswith("cuda"):
        from akg_agents.profile.cuda_timer import CudaTimer

        return CudaTimer()
    return CpuTimer()


def _profile(
    job: CandidateJob, task: types.ModuleType, model: Any, inputs: list[Any], verified: list[torch.Tensor]
) -> ProfileResult:
    reference = _build(task.Model, task, job.device)
    calls: list[Callable[[], Any]] = [lambda: model(*inputs), lambda: reference(*inputs)]
    if job.baseline_compile:
        compiled = torch.compile(reference)
        calls.append(lambda: compiled(*inputs))
    timer = _timer(job.device)
    with torch.no_grad():
        timings = time_interleaved(calls, job.warmup_times, job.run_times, timer)
        # After timing, the kernel must still compute the answer verified for these inputs: a
        # kernel that counts its calls and stops working (or replays a cached output) once the
        # verifier is done is caught here.
        last = [t.clone() for t in plain_outputs(model(*inputs))]
    if compare_outputs(verified, last, job.seeds[0], job.atol, job.rtol) is not None:
        raise JobFailed(Status.REJECTED, "outputs changed while being timed", rule="stable-under-profiling")
    flags = []
    speedup = timings[1].median_ms / max(timings[0].median_ms, 1e-9)
    if speedup > SUSPICIOUS_SPEEDUP or not math.isfinite(speedup):
        flags.append(f"suspicious speedup {speedup:.1f}x over eager: check the kernel by hand")
    if job.device.startswith("cuda"):
        from akg_agents.profile.gpu_flags import gpu_flags

        with torch.no_grad():
            flags += gpu_flags(timer, calls[0], calls[1], reference, inputs, verified, timings[0].median_ms)
    return ProfileResult(
        candidate=timings[0],
        eager=timings[1],
        compiled=timings[2] if job.baseline_compile else None,
        threads=torch.get_num_threads(),
        flags=flags,
    )


def run_job(job: ReferenceJob | CandidateJob) -> WorkerReport:
    try:
        if isinstance(job, ReferenceJob):
            return run_reference(job)
        return run_candidate(job)
    except JobFailed as failed:
        return WorkerReport(status=failed.status.value, message=failed.message, rule=failed.rule, log_tail=failed.log[-4000:])
    except MemoryError:
        return WorkerReport(status=Status.RUNTIME_ERROR.value, message="out of memory (the sandbox's memory limit)")
    except Exception as exc:
        return WorkerReport(status=Status.RUNTIME_ERROR.value, message=f"{exc!r}", log_tail=_short_traceback())
