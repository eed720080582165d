"""The Verifier: static checks, the referee's reference, a sandboxed run, the referee's verdict.

    verifier = Verifier(VerifySettings(device="cuda"), cache_dir)
    info = verifier.reference(task)            # validated, references on the device, baselines timed
    result = verifier.evaluate(task, candidate)  # -> EvalResult with evidence
    timings = verifier.race(task, finalists)     # re-time the best few against eager, side by side

Three processes per device: this one (never runs task or candidate code), the referee (runs the
task's Model, holds the references, compares) and the sandbox's fork server (runs candidates).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from akg_agents.dsl import backend_for_device, get_plugin
from akg_agents.errors import TaskError, ToolchainError, WorkerError
from akg_agents.records import Candidate, EvalResult, Mismatch, Status, Task, Timing, from_dict
from akg_agents.verify.protocol import (
    CandidateJob,
    RaceEntry,
    RaceJob,
    RaceOutcome,
    RefereeLink,
    WorkerReport,
)
from akg_agents.verify.referee_client import RefereeProcess
from akg_agents.verify.sandbox import Sandbox, new_job_dir, scrubbed_env
from akg_agents.verify.static import check_source

BASELINE_VERSION = 4  # bump when baseline timing changes: old cache entries are then ignored
BASELINE_TIMEOUT_S = 900.0  # a torch.compile baseline compiles for minutes on large tasks
PROFILE_SHARE = 0.4  # of the per-candidate timeout, for the timed rounds  # references at KernelBench sizes, plus a torch.compile baseline


@dataclass(frozen=True)
class VerifySettings:
    seeds: tuple[int, ...] = (0, 1, 2)
    device: str = "cpu"
    threads: int = 0
    timeout_s: float = 60.0
    memory_mb: int = 8192
    warmup_times: int = 5
    run_times: int = 30
    baseline_compile: bool = False
    precision: str = "fp32"
    allow_tf32: bool = False


@dataclass(frozen=True)
class ReferenceInfo:
    """What preparing the task found: shapes, what the reference does, baseline times."""

    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    output_dtypes: list[str]
    eager_ms: float
    cases: list[str]  # seedN, and dynK for each get_inputs_dyn_list() entry
    compile_ms: float | None = None
    device_name: str = ""
    input_bytes: int = 0
    output_bytes: int = 0
    aliases: list[list[int]] = field(default_factory=list)
    mutated_inputs: list[int] = field(default_factory=list)


class Verifier:
    def __init__(self, settings: VerifySettings, cache_dir: str, sandbox: Sandbox | None = None,
                 referee: RefereeProcess | None = None, env_extra: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.sandbox = sandbox or Sandbox(cache_dir, env_extra)
        # The referee sees the same device as the sandbox (CUDA_VISIBLE_DEVICES) and no secrets.
        self.referee = referee or RefereeProcess(self.sandbox.cache_dir, scrubbed_env(cache_dir, env_extra))
        self._jobs_root = str(Path(cache_dir) / "jobs")
        self._prepared: tuple[str, ReferenceInfo] | None = None

    def close(self) -> None:
        self.sandbox.close()
        self.referee.close()

    # -- the task -------------------------------------------------------------------------------

    def _baseline_path(self, task: Task, device_name: str) -> Path:
        s = self.settings
        seeds = "-".join(str(x) for x in s.seeds)
        name = "".join(c if c.isalnum() else "_" for c in device_name)
        compiled = "_compile" if s.baseline_compile else ""
        key = f"v{BASELINE_VERSION}_{task.digest}_{name}_{s.precision}_s{seeds}{compiled}_torch{torch.__version__}"
        return Path(self.cache_dir) / "baselines" / f"{key}.json"

    def forget_prepared(self) -> None:
        """The referee lost its task (it was restarted): the next reference() prepares it again."""
        self._prepared = None

    def _prepare_timeout(self) -> float:
        """A task that hangs at import or in forward is stopped after this (the referee restarts)."""
        return max(3 * self.settings.timeout_s, 120.0)

    def reference(self, task: Task) -> ReferenceInfo:
        """Validate the task in the referee and hold its references there; baselines are timed once
        per task, device kind and precision, and reused by later runs (cached on disk)."""
        key = f"{task.digest}_{self.settings.precision}"
        if self._prepared is not None and self._prepared[0] == key and self.referee.started:
            return self._prepared[1]
        s = self.settings
        request = {"cmd": "prepare", "task_source": task.source, "digest": task.digest, "seeds": list(s.seeds),
                   "device": s.device, "threads": s.threads, "precision": s.precision, "pool": s.run_times,
                   "allow_tf32": s.allow_tf32}
        reply = self.referee.request(request, self._prepare_timeout())
        if reply.get("lost"):
            raise TaskError(f"task '{task.name}': no answer within {self._prepare_timeout():.0f} s while importing it and "
                            "computing its reference outputs (an endless loop at import or in forward?)")
        if not reply.get("ok"):
            raise TaskError(f"task '{task.name}': {reply.get('message', 'validation failed')}", hint=_last_line(reply.get("log", "")))
        info = dict(reply["info"])
        cached = self._baseline_path(task, info["device_name"])
        if cached.exists():
            info.update(json.loads(cached.read_text()))
        else:
            timed = self.referee.request({"cmd": "baselines", "digest": task.digest, "baseline_compile": s.baseline_compile,
                                          "time_runs": max(s.run_times // 2, 5), "warmup": 2}, BASELINE_TIMEOUT_S)
            if not timed.get("ok"):
                raise TaskError(f"task '{task.name}': {timed.get('message', 'baseline timing failed')}")
            baselines = {k: timed["info"][k] for k in ("eager_ms", "compile_ms") if k in timed["info"]}
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps(baselines))
            info.update(baselines)
        known = {f for f in ReferenceInfo.__dataclass_fields__}
        result = ReferenceInfo(**{k: v for k, v in info.items() if k in known})
        self._prepared = (key, result)
        return result

    def quick_eager_ms(self, task: Task) -> float:
        """Eager time at the task's sizes, measured without preparing references (for shrinking)."""
        s = self.settings
        reply = self.referee.request({"cmd": "eager_ms", "task_source": task.source, "device": s.device,
                                      "precision": s.precision, "seed": s.seeds[0], "allow_tf32": s.allow_tf32},
                                     self._prepare_timeout())
        if not reply.get("ok"):
            raise TaskError(f"task '{task.name}': {reply.get('message', 'cannot be timed')}")
        return float(reply["eager_ms"])

    def fit_problem(self, task: Task) -> str | None:
        """Why the task cannot run here at its sizes (from a meta-device dry run), or None."""
        s = self.settings
        reply = self.referee.request({"cmd": "estimate", "task_source": task.source, "device": s.device}, self._prepare_timeout())
        if reply.get("lost"):
            raise TaskError(f"task '{task.name}': no answer within {self._prepare_timeout():.0f} s while importing it "
                            "(an endless loop at import?)")
        if not reply.get("ok"):
            raise TaskError(f"task '{task.name}': {reply.get('message', 'cannot be loaded')}")
        inputs, outputs = reply.get("input_bytes"), reply.get("output_bytes")
        if inputs is None:
            return None
        outputs = inputs if outputs is None else outputs
        # The referee holds inputs and one output per case; the candidate's process holds inputs,
        # their snapshot, its output, the snapshot of it and eager's output.
        sandbox_need = 2 * inputs + 3 * outputs
        total_need = 3 * inputs + (len(s.seeds) + 3) * outputs
        gib = 2**30
        if not backend_for_device(s.device).host_memory:
            if total_need > 0.85 * reply["capacity_bytes"]:
                return (f"needs about {total_need / gib:.1f} GiB of device memory (inputs {inputs / gib:.2f} GiB, "
                        f"outputs {outputs / gib:.2f} GiB), more than this device's {reply['capacity_bytes'] / gib:.0f} GiB")
            return None
        if sandbox_need > 0.8 * s.memory_mb * 2**20 or total_need > 0.7 * reply["capacity_bytes"]:
            return (f"needs about {total_need / gib:.1f} GiB (inputs {inputs / gib:.2f} GiB, outputs {outputs / gib:.2f} GiB); "
                    f"the sandbox's limit is {s.memory_mb / 1024:.0f} GiB and this machine has {reply['capacity_bytes'] / gib:.0f} GiB")
        return None

    # -- candidates -----------------------------------------------------------------------------

    def evaluate(self, task: Task, candidate: Candidate, profile: bool = True) -> EvalResult:
        started = time.perf_counter()
        plugin = get_plugin(candidate.dsl)
        problem = plugin.toolchain_problem()
        if problem:
            raise ToolchainError(problem)
        _, violations = check_source(candidate.code, plugin)
        if violations:
            first = violations[0]
            status = Status.COMPILE_ERROR if first.rule == "syntax" else Status.REJECTED
            detail = "\n".join(f"line {v.line}: [{v.rule}] {v.message}" for v in violations)
            return EvalResult(candidate.id, status, first.message, log_tail=detail, rule=first.rule)
        info = self.reference(task)
        s = self.settings
        with _Session(self, task, info) as (link, verdict):
            job_dir = new_job_dir(self._jobs_root, "cand_")
            job = CandidateJob(task.source, candidate.code, candidate.dsl, list(s.seeds), job_dir, link, s.device, s.threads,
                               profile, s.warmup_times, s.run_times, s.precision, PROFILE_SHARE * s.timeout_s,
                               task.atol, task.rtol, s.allow_tf32)
            report = self.sandbox.run(job, job_dir, s.timeout_s, s.memory_mb)
        result = _judge(candidate.id, report, verdict, list(s.seeds), info)
        return replace(result, timings_s={**result.timings_s, "total": time.perf_counter() - started})

    def race(self, task: Task, finalists: list[Candidate]) -> RaceOutcome:
        """Re-time finalists and eager side by side on the same fresh inputs."""
        info = self.reference(task)
        s = self.settings
        entries = [RaceEntry(c.id, c.dsl, c.code) for c in finalists]
        with _Session(self, task, info) as (link, verdict):
            job_dir = new_job_dir(self._jobs_root, "race_")
            job = RaceJob(task.source, entries, list(s.seeds), job_dir, link, s.device, s.threads, s.warmup_times, s.run_times,
                          s.precision, PROFILE_SHARE * s.timeout_s * len(finalists), s.allow_tf32)
            report = self.sandbox.run(job, job_dir, s.timeout_s * len(finalists), s.memory_mb)
        if report.status != "ok" or verdict.get("failure"):
            failed = int(report.log_tail) if report.log_tail.isdigit() else None
            return RaceOutcome(failed=failed, message=report.message or "the referee stopped the race")
        missing = _missing_timed_outputs(verdict, len(finalists))
        if missing:
            return RaceOutcome(message=missing)
        compiled = _compiled_timing(info)
        return RaceOutcome(timings=[replace(p, compiled=compiled, timed_checked=p.input_sets) for p in report.race])


def _missing_timed_outputs(verdict: dict[str, Any], models: int) -> str:
    """The referee, not the candidate's process, says how many timed outputs it judged."""
    handed, judged = int(verdict.get("handed", 0)), int(verdict.get("timed_checked", 0))
    if judged != handed * models or handed == 0:
        return (f"the referee handed out {handed} fresh input set(s) but judged {judged} timed output(s) "
                f"(expected {handed * models}): the timings cannot be trusted")
    return ""


class _Session:
    """A referee session around one sandbox job; the verdict is filled when it closes."""

    def __init__(self, verifier: Verifier, task: Task, info: ReferenceInfo) -> None:
        self.verifier, self.task, self.info = verifier, task, info
        self.token = secrets.token_hex(16)
        self.verdict: dict[str, Any] = {}

    def __enter__(self) -> tuple[RefereeLink, dict[str, Any]]:
        opening = {"cmd": "open", "token": self.token, "task_digest": self.task.digest, "atol": self.task.atol,
                   "rtol": self.task.rtol, "allow_tf32": self.verifier.settings.allow_tf32}
        reply = self.verifier.referee.request(opening, 60.0)
        if not reply.get("ok"):  # the referee was restarted: prepare again, then open
            self.verifier.forget_prepared()
            self.verifier.reference(self.task)
            reply = self.verifier.referee.request(opening, 60.0)
        if not reply.get("ok"):
            raise WorkerError(f"the referee cannot open a session: {reply.get('message', 'no answer')}")
        link = RefereeLink(reply.get("socket", ""), self.token, reply.get("slots", []), self.info.aliases, self.info.mutated_inputs,
                           reply.get("input_slots", []))
        return link, self.verdict

    def __exit__(self, *exc: object) -> None:
        reply = self.verifier.referee.request({"cmd": "close", "token": self.token}, 60.0)
        self.verdict.update(reply.get("verdict") or {"lost": reply.get("message", "the referee lost the session")})


def _compiled_timing(info: ReferenceInfo) -> Timing | None:
    return Timing(info.compile_ms, 0.0, 0) if info.compile_ms else None


def _judge(candidate_id: str, report: WorkerReport, verdict: dict[str, Any], seeds: list[int], info: ReferenceInfo) -> EvalResult:
    """One verdict from the worker's report and the referee's: the referee's evidence wins."""
    failure = verdict.get("failure")
    if failure is not None and failure.get("kind") == "timed_input":
        return EvalResult(candidate_id, Status.REJECTED, f"a timed call changed input {failure['input']} in place "
                          "(the reference does not)", rule="inputs-unchanged", seeds=seeds, timings_s=report.timings_s)
    if failure is not None and failure.get("kind") in ("case", "timed"):
        mismatch = from_dict(Mismatch, failure["mismatch"])
        detail = f": {mismatch.detail}" if mismatch.detail else ""
        if failure["kind"] == "case":
            case = failure["case"]
            where = f"seed {case[4:]}" if case.startswith("seed") else f"dynamic-shape case {case[3:]}"
            return EvalResult(candidate_id, Status.MISMATCH, f"output differs from PyTorch on {where}{detail}", mismatch=mismatch,
                              seeds=seeds, timings_s=report.timings_s)
        if report.profile is None and report.status != "ok" and report.status != Status.REJECTED.value:
            return EvalResult(candidate_id, Status.MISMATCH, f"output differs from PyTorch on fresh inputs (seed {failure['seed']}){detail}",
                              mismatch=mismatch, seeds=seeds, timings_s=report.timings_s)
        return EvalResult(candidate_id, Status.REJECTED,
                          f"the output of a timed call (fresh inputs, seed {failure['seed']}) differs from PyTorch{detail}",
                          rule="timed-output-mismatch", mismatch=mismatch, seeds=seeds, timings_s=report.timings_s)
    if report.status != "ok":
        return EvalResult(candidate_id, Status(report.status), report.message, log_tail=report.log_tail,
                          rule=report.rule, timings_s=report.timings_s)
    if failure is not None or "lost" in verdict:
        message = (failure or {}).get("message") or verdict.get("lost", "the referee gave no verdict")
        return EvalResult(candidate_id, Status.RUNTIME_ERROR, message, timings_s=report.timings_s)
    missing = [c for c in info.cases if c not in verdict.get("cases_ok", [])]
    if missing:
        return EvalResult(candidate_id, Status.RUNTIME_ERROR, f"no output reached the referee for case {missing[0]}",
                          timings_s=report.timings_s)
    message = _pass_message(seeds, info.cases, verdict)
    profile = report.profile
    if (profile is not None or int(verdict.get("handed", 0))) and _missing_timed_outputs(verdict, 1):
        return EvalResult(candidate_id, Status.REJECTED, _missing_timed_outputs(verdict, 1), rule="timed-outputs-missing",
                          seeds=seeds, timings_s=report.timings_s)
    if profile is not None:
        # (The count of checked timed calls stays out of the message: prompts carry the message,
        # and it varies with load, which would make replayed conversations diverge.)
        profile = replace(profile, compiled=_compiled_timing(info), timed_checked=int(verdict.get("timed_checked", 0)))
    return EvalResult(candidate_id, Status.PASSED, message, profile=profile, seeds=seeds, timings_s=report.timings_s, notes=report.notes)


def _pass_message(seeds: list[int], cases: list[str], verdict: dict[str, Any]) -> str:
    """What a passing candidate matched. Cases it passed only against the referee's float64
    reference (PyTorch's own output being off by more than the tolerance there) are named."""
    used = verdict.get("float64") or {}
    float64 = [c for c in used.get("cases", []) if c in cases]
    plain_seeds = [s for s in seeds if f"seed{s}" not in float64]
    plain_dyn = sum(1 for c in cases if c.startswith("dyn") and c not in float64)
    parts = []
    if plain_seeds or plain_dyn:
        parts.append(f"matches PyTorch on seeds {plain_seeds}" + (f" and {plain_dyn} dynamic-shape cases" if plain_dyn else ""))
    if float64 or int(used.get("timed", 0)):
        f64_seeds = [int(c[4:]) for c in float64 if c.startswith("seed")]
        f64_dyn = sum(1 for c in float64 if c.startswith("dyn"))
        where = [f"seeds {f64_seeds}"] if f64_seeds else []
        where += [f"{f64_dyn} dynamic-shape cases"] if f64_dyn else []
        where = where or ["timed calls"]  # (how many varies with load: not said)
        words = "/".join(used.get("dtypes", [])) or "fp32"
        parts.append(f"matches the float64 reference within {words} reference error on {' and '.join(where)} "
                     f"(PyTorch's own {words} output is off by more than the tolerance there)")
    return "; ".join(parts)


def _last_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
