"""The code that runs inside the sandboxed child process: one candidate job, then exit.

The parent never trusts this process. It holds no reference output: it sends every output it
is asked to check to the device's referee (verify/referee.py), which compares on the device.
What it can vouch for it checks here, around each call: no PyTorch math inside forward, a real
kernel launch, inputs unchanged, no output aliasing an input (unless the reference's does), no
new host threads.

Timing (profile/): warmup, then rounds on fresh inputs. Each round asks the referee for a seed
(drawn only then), builds the inputs from it, times the candidate, snapshots its output the
moment the call (and the whole device) is done, hands the snapshot to the referee, then times
eager PyTorch on the same inputs. A kernel that caches results by pointer or by value, finishes
work after returning, or stops working after N calls gives a wrong timed output.
"""

from __future__ import annotations

import _thread
import functools
import math
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

import torch

from akg_agents.dsl.registry import backend_for_device
from akg_agents.profile.timer import ratio_settled, summarize
from akg_agents.records import ProfileResult, Status
from akg_agents.verify.compare import compare_outputs, same_bits
from akg_agents.verify.confine import native_threads, reset_thread_starts, thread_problem, watch_thread_starts
from akg_agents.verify.guards import ForwardGuard, OutputCheckError, plain_outputs, poison
from akg_agents.verify.protocol import CandidateJob, RaceJob, WorkerReport
from akg_agents.verify.referee_client import CandidateChannel
from akg_agents.verify.taskrun import (
    aliased_inputs,
    build_model,
    case_inputs,
    case_labels,
    load_module,
    make_inputs,
    make_timer,
    set_tf32,
    sync,
)

SUSPICIOUS_SPEEDUP = 10.0
MIN_ROUNDS = 5
EAGER = -1  # eager's place in a round's lineup


class JobFailed(Exception):
    def __init__(self, status: Status, message: str, rule: str | None = None, log: str = "") -> None:
        super().__init__(message)
        self.status, self.message, self.rule, self.log = status, message, rule, log


def _short_traceback(limit: int = 12) -> str:
    return "".join(traceback.format_exc().splitlines(keepends=True)[-limit:])


def _set_threads(threads: int) -> None:
    if threads > 0:
        torch.set_num_threads(threads)


def snapshot(outputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Contiguous copies taken now: what the call produced by the time it returned."""
    return [t.detach().clone(memory_format=torch.contiguous_format) for t in outputs]


def _load_candidate(code: str, dsl: str) -> types.ModuleType:
    if "cpp_extension" in code:
        # KernelBench-style load_inline candidates: import it before the plugin instruments it
        # (candidates cannot import it dynamically: importlib and __import__ are forbidden).
        import torch.utils.cpp_extension  # noqa: F401
    try:
        return load_module(code, f"akg_candidate_{dsl}")
    except Exception as exc:
        log = str(getattr(exc, "args", [""])[0]) if type(exc).__name__.endswith("CompileError") else _short_traceback()
        raise JobFailed(Status.COMPILE_ERROR, f"the candidate does not build: {type(exc).__name__}", log=log) from None


def run_candidate(job: CandidateJob) -> WorkerReport:
    from akg_agents.dsl import get_plugin

    _set_threads(job.threads)
    set_tf32(job.allow_tf32)
    channel = CandidateChannel(job.referee, job.device)  # connected before any candidate code runs
    plugin = get_plugin(job.dsl)
    task = load_module(job.task_source, "akg_task")
    threads_before = _thread._count()  # threads started from Python, by threading or _thread
    watch_thread_starts()
    timings: dict[str, float] = {}
    with plugin.instrument() as launches:
        start = time.perf_counter()
        natives = native_threads()
        candidate = _load_candidate(job.candidate_code, job.dsl)
        timings["compile"] = time.perf_counter() - start
        # On the CPU nothing legitimate starts a thread while a candidate loads (OpenMP starts its
        # pool at the first parallel loop): a native thread started now (a C++ constructor) can
        # finish a call's work after the call returns. (A device runtime (CUDA, CANN) starts its own.)
        if not backend_for_device(job.device).runtime_starts_threads and native_threads() > natives:
            raise JobFailed(Status.REJECTED, "the candidate started a native thread while loading: work outside the calls",
                            rule="host-threads")
        if not hasattr(candidate, "ModelNew"):
            raise JobFailed(Status.REJECTED, "the candidate defines no ModelNew", rule="model-new")
        try:
            model = build_model(candidate.ModelNew, task, job.device, job.precision)
        except Exception as exc:
            raise JobFailed(Status.RUNTIME_ERROR, f"ModelNew(*get_init_inputs()) raised {exc!r}", log=_short_traceback()) from None
        _check_threads(threads_before, during_calls=False)
        reset_thread_starts()  # from here on, any thread start happens inside a call of forward
        checks = CallChecks(job, launches, threads_before)
        start = time.perf_counter()
        first_inputs = _verify_cases(job, task, model, checks, channel)
        timings["verify"] = time.perf_counter() - start
        _check_threads(threads_before)
        profile = None
        if job.profile:
            start = time.perf_counter()
            profile = _profile(job, task, model, first_inputs, checks, channel)
            timings["profile"] = time.perf_counter() - start
            _check_threads(threads_before)
        else:
            _fresh_check(job, task, model, checks, channel)
    # Optional plugin hook (cpp: g++'s vectorization verdict per loop): evidence for tuning.
    notes_of = getattr(plugin, "compiler_notes", None)
    notes = notes_of() if notes_of is not None else ""
    return WorkerReport(status="ok", profile=profile, notes=notes, timings_s=timings)


def _check_threads(before: int, during_calls: bool = True) -> None:
    problem = thread_problem(before, during_calls)
    if problem:
        raise JobFailed(Status.REJECTED, problem, rule="host-threads")


class CallChecks:
    """What this process can vouch for about one call of forward."""

    def __init__(self, job: CandidateJob | RaceJob, launches: Any, threads: int) -> None:
        self.job, self.launches, self.threads = job, launches, threads

    def guarded(self, model: Any, inputs: list[Any]) -> list[torch.Tensor]:
        job = self.job
        before = self.launches.count()
        kept = [v.clone() if isinstance(v, torch.Tensor) and i not in job.referee.mutated_inputs else None
                for i, v in enumerate(inputs)]
        guard = ForwardGuard()
        try:
            with torch.no_grad(), guard:
                raw = model(*inputs)
                sync(job.device)
        except Exception as exc:
            raise JobFailed(Status.RUNTIME_ERROR, f"forward raised {exc!r}", log=_short_traceback()) from None
        if guard.forbidden:
            ops = ", ".join(sorted(guard.forbidden)[:6])
            raise JobFailed(Status.REJECTED, f"forward ran PyTorch compute ops ({ops}); the math must run in the kernel", rule="torch-compute-in-forward")
        if self.launches.count() == before:
            raise JobFailed(Status.REJECTED, "forward returned without launching any kernel", rule="kernel-not-launched")
        for index, (old, new) in enumerate(zip(kept, inputs, strict=True)):
            if old is not None and not same_bits(old, new):
                raise JobFailed(Status.REJECTED, f"forward modified input {index} in place (the reference does not)", rule="inputs-unchanged")
        del kept
        _check_threads(self.threads)
        try:
            outputs = plain_outputs(raw)
        except OutputCheckError as exc:
            raise JobFailed(Status.REJECTED, f"forward {exc}", rule="plain-tensor-outputs") from None
        self.aliasing(outputs, inputs)
        return outputs

    def aliasing(self, outputs: list[torch.Tensor], inputs: list[Any]) -> None:
        allowed = self.job.referee.aliases
        for index, overlaps in enumerate(aliased_inputs(outputs, inputs)):
            permitted = set(allowed[index]) if index < len(allowed) else set()
            extra = [i for i in overlaps if i not in permitted]
            if extra:
                raise JobFailed(Status.REJECTED, f"output {index} shares memory with input {extra[0]} (the reference's output does not)",
                                rule="output-aliases-input")


def _verify_cases(job: CandidateJob, task: types.ModuleType, model: Any, checks: CallChecks, channel: CandidateChannel) -> list[Any]:
    """Every case under the guards, each output judged by the referee; returns the first inputs."""
    first_inputs: list[Any] = []
    for position, case in enumerate(case_labels(task, job.seeds)):
        shared = channel.case_inputs(case) if job.referee.input_slots else None
        inputs = shared if shared is not None else case_inputs(task, case, job.seeds, job.device, job.precision)
        outputs = snapshot(checks.guarded(model, inputs))
        if position == 0:
            # The timed rounds overwrite the input slots: warmup needs its own copy.
            first_inputs = [v.clone() if isinstance(v, torch.Tensor) else v for v in inputs] if shared is not None else inputs
            again = checks.guarded(model, inputs if shared is not None else case_inputs(task, case, job.seeds, job.device, job.precision))
            if compare_outputs(outputs, again, job.seeds[0], job.atol, job.rtol, job.allow_tf32) is not None:
                raise JobFailed(Status.MISMATCH, "two runs on the same inputs disagree (a race, stale buffer or uninitialized read)", rule="self-consistency")
            del again
        if not channel.submit_case(case, outputs):
            raise JobFailed(Status.MISMATCH, f"output differs from PyTorch on case {case}")
        del outputs
    return first_inputs


def _fresh_check(job: CandidateJob, task: types.ModuleType, model: Any, checks: CallChecks, channel: CandidateChannel) -> None:
    """Without timing, still one call on inputs the referee draws now: the seeds' inputs are
    public, and a kernel could have been built around their answers."""
    handed = channel.next_inputs()
    if handed.get("done"):
        return
    seed = int(handed["seed"])
    inputs = channel.slot_inputs(handed["scalars"]) if "scalars" in handed else make_inputs(task, seed, job.device, job.precision)
    if not channel.submit_timed(seed, snapshot(checks.guarded(model, inputs))):
        raise JobFailed(Status.MISMATCH, "output differs from PyTorch on fresh inputs")


def _profile(job: CandidateJob, task: types.ModuleType, model: Any, first_inputs: list[Any], checks: CallChecks,
             channel: CandidateChannel) -> ProfileResult:
    reference = build_model(task.Model, task, job.device, job.precision)
    timer = make_timer(job.device)
    # Warmup calls are guarded calls too, on the very buffers the timed calls use (on the CPU, the
    # input slots): a kernel cannot tell them apart by address.
    warm = channel.last_slot_inputs() or first_inputs
    with torch.no_grad():
        for _ in range(job.warmup_times):
            checks.guarded(model, warm)
            reference(*warm)
        sync(job.device)
        samples_c, samples_e = _rounds(job, task, [model], reference, timer, channel, checks)
    candidate, eager = summarize(samples_c[0]), summarize(samples_e)
    flags = []
    speedup = eager.median_ms / max(candidate.median_ms, 1e-9)
    if speedup > SUSPICIOUS_SPEEDUP or not math.isfinite(speedup):
        flags.append(f"suspicious speedup {speedup:.1f}x over eager: check the kernel by hand")
    below = False
    note = backend_for_device(job.device).roofline_check(reference, first_inputs, candidate.median_ms)  # None on the CPU
    if note:
        flags.append(note)
        below = True
    return ProfileResult(candidate=candidate, eager=eager, threads=torch.get_num_threads(), flags=flags,
                         below_floor=below, input_sets=candidate.runs, timed_checked=channel.timed_submitted)


def _rounds(job: CandidateJob | RaceJob, task: types.ModuleType, models: list[Any], reference: Any, timer: Any,
            channel: CandidateChannel, checks: CallChecks | None = None) -> tuple[list[list[float]], list[float]]:
    """Timed rounds, each on fresh inputs: every model and eager; every model's output checked."""
    samples: list[list[float]] = [[] for _ in models]
    eager: list[float] = []
    started = time.perf_counter()
    for done in range(job.run_times):
        # Each round draws fresh inputs and has its outputs checked: on a CPU at large sizes that
        # costs far more than the calls. Stop early (never below MIN_ROUNDS) rather than time out.
        elapsed = time.perf_counter() - started
        if done >= MIN_ROUNDS and elapsed / done * (done + 1) > job.profile_budget_s:
            break
        handed = channel.next_inputs()
        if handed.get("done"):
            break  # every fresh input set the referee had was used: none is ever repeated
        seed = int(handed["seed"])
        if "scalars" in handed:
            inputs = channel.slot_inputs(handed["scalars"])
        else:
            inputs = make_inputs(task, seed, job.device, job.precision)
        # The order rotates every round (eager first in some, each finalist first in others):
        # whoever runs right after the inputs are written finds them hotter in cache.
        lineup = [*range(len(models)), EAGER]
        shift = done % len(lineup)
        for index in lineup[shift:] + lineup[:shift]:
            # A task whose forward changes its inputs gets them afresh for every call.
            own = [v.clone() if isinstance(v, torch.Tensor) else v for v in inputs] if job.referee.mutated_inputs else inputs
            if index == EAGER:
                eager.append(_time_eager(timer, reference, own))
            else:
                samples[index].append(_as_finalist(index, functools.partial(
                    _time_checked, job, models[index], index, len(models), own, seed, timer, channel, checks)))
        del inputs
        if isinstance(job, CandidateJob) and ratio_settled(samples[0], eager):
            break  # screening: the race re-times finalists with every round
    return samples, eager


def _time_eager(timer: Any, reference: Any, inputs: list[Any]) -> float:
    produced: list[Any] = []
    elapsed = float(timer.time_one(_calling(reference, inputs, produced)))
    # Poisoned before it is freed: a kernel that writes nothing must not find eager's answer in
    # the block the allocator hands it next.
    for tensor in plain_outputs(produced[0]):
        poison(tensor)
    return elapsed


def _time_checked(job: CandidateJob | RaceJob, model: Any, index: int, count: int, inputs: list[Any], seed: int, timer: Any,
                  channel: CandidateChannel, checks: CallChecks | None) -> float:
    """One timed call of a candidate; its output goes to the referee, its rules are checked."""
    produced: list[Any] = []
    launched = checks.launches.count() if checks else 0
    threads = native_threads()
    recorder = ForwardGuard(poison=False)  # around the call only: the timer's L2 flush is torch math
    elapsed = float(timer.time_one(_calling(model, inputs, produced, recorder)))
    if recorder.forbidden:
        ops = ", ".join(sorted(recorder.forbidden)[:6])
        raise JobFailed(Status.REJECTED, f"a timed call ran PyTorch compute ops ({ops}); the math must run in the kernel",
                        rule="torch-compute-in-forward")
    if native_threads() > threads:
        raise JobFailed(Status.REJECTED, "a timed call started a native thread that is still running: work outside the call",
                        rule="host-threads")
    try:
        raw = plain_outputs(produced[0])
    except OutputCheckError as exc:
        raise JobFailed(Status.REJECTED, f"forward {exc} while being timed", rule="plain-tensor-outputs") from None
    # On the CPU, copying into the referee's slot (at submit) is the snapshot itself.
    outputs = raw if backend_for_device(job.device).host_memory else snapshot(raw)
    if checks is not None:
        if checks.launches.count() == launched:
            raise JobFailed(Status.REJECTED, "a timed call returned without launching any kernel", rule="kernel-not-launched")
        checks.aliasing(raw, inputs)
        _check_threads(checks.threads)
    del produced, raw
    if not channel.submit_timed(seed, outputs):
        who = f" (finalist {index})" if count > 1 else ""
        raise JobFailed(Status.REJECTED, f"a timed call's output differs from PyTorch{who}", rule="timed-output-mismatch")
    return elapsed


def _calling(model: Any, inputs: list[Any], produced: list[Any], guard: ForwardGuard | None = None) -> Callable[[], None]:
    def call() -> None:
        if guard is None:
            produced.append(model(*inputs))
            return
        with guard:
            produced.append(model(*inputs))

    return call


def run_race(job: RaceJob) -> WorkerReport:
    """Finalists and eager, round-robin on the same fresh inputs, in one process, each finalist's
    calls checked as in its own evaluation; a finalist that fails is named (JobFailed.log)."""
    from akg_agents.dsl import get_plugin

    _set_threads(job.threads)
    set_tf32(job.allow_tf32)
    channel = CandidateChannel(job.referee, job.device)
    task = load_module(job.task_source, "akg_task")
    threads_before = _thread._count()
    watch_thread_starts()
    with get_plugin(job.entries[0].dsl).instrument() as launches:
        models = [build_model(_load_candidate(e.code, e.dsl).ModelNew, task, job.device, job.precision) for e in job.entries]
        _check_threads(threads_before, during_calls=False)
        reset_thread_starts()
        checks = CallChecks(job, launches, threads_before)
        reference = build_model(task.Model, task, job.device, job.precision)
        inputs = make_inputs(task, job.seeds[0], job.device, job.precision)
        timer = make_timer(job.device)
        with torch.no_grad():
            for _ in range(job.warmup_times):
                for index, model in enumerate(models):
                    _as_finalist(index, functools.partial(checks.guarded, model, inputs))
                reference(*inputs)
            sync(job.device)
            samples, eager_samples = _rounds(job, task, models, reference, timer, channel, checks)
    eager = summarize(eager_samples)
    race = [ProfileResult(candidate=summarize(s), eager=eager, threads=torch.get_num_threads(), input_sets=len(s)) for s in samples]
    return WorkerReport(status="ok", race=race)


def _as_finalist(index: int, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except JobFailed as failed:
        failed.log = str(index)
        raise


def run_job(job: CandidateJob | RaceJob) -> WorkerReport:
    try:
        if isinstance(job, RaceJob):
            return run_race(job)
        return run_candidate(job)
    except JobFailed as failed:
        return WorkerReport(status=failed.status.value, message=failed.message, rule=failed.rule, log_tail=failed.log[-4000:])
    except MemoryError:
        return WorkerReport(status=Status.RUNTIME_ERROR.value, message="out of memory (the sandbox's memory limit)")
    except torch.cuda.OutOfMemoryError as exc:
        return WorkerReport(status=Status.RUNTIME_ERROR.value, message=f"out of GPU memory: {str(exc).splitlines()[0][:200]}")
    except Exception as exc:
        return WorkerReport(status=Status.RUNTIME_ERROR.value, message=f"{exc!r}", log_tail=_short_traceback())
