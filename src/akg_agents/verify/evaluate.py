"""The Verifier: static checks, reference outputs, a sandboxed run, comparison -> EvalResult."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from akg_agents.dsl import get_plugin
from akg_agents.errors import TaskError, ToolchainError
from akg_agents.records import Candidate, EvalResult, Status, Task
from akg_agents.verify.compare import compare_outputs
from akg_agents.verify.protocol import CandidateJob, ReferenceJob, WorkerReport
from akg_agents.verify.sandbox import Sandbox, new_job_dir
from akg_agents.verify.static import check_source

REFERENCE_VERSION = 3  # bump when reference validation changes: old cache entries are then ignored


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


@dataclass(frozen=True)
class ReferenceInfo:
    """What validating the task found: shapes used and eager time (from the reference job)."""

    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    output_dtypes: list[str]
    eager_ms: float
    cases: list[str]  # seedN, and dynK for each get_inputs_dyn_list() entry


class Verifier:
    def __init__(self, settings: VerifySettings, cache_dir: str, sandbox: Sandbox | None = None) -> None:
        self.settings = settings
        self.cache_dir = cache_dir
        self.sandbox = sandbox or Sandbox(cache_dir)
        self._jobs_root = os.path.join(cache_dir, "jobs")

    def close(self) -> None:
        self.sandbox.close()

    # -- references ---------------------------------------------------------------------------

    def _ref_dir(self, task: Task) -> Path:
        seeds = "-".join(str(s) for s in self.settings.seeds)
        key = f"v{REFERENCE_VERSION}_{task.digest}_{self.settings.device.replace(':', '')}_s{seeds}_torch{torch.__version__}"
        return Path(self.cache_dir) / "references" / key

    def reference(self, task: Task) -> ReferenceInfo:
        """Validate the task and compute reference outputs (cached per task, seeds, device)."""
        directory = self._ref_dir(task)
        info_path = directory / "info.json"
        if info_path.exists():
            return ReferenceInfo(**json.loads(info_path.read_text()))
        tmp = Path(new_job_dir(self._jobs_root, "ref_"))
        job = ReferenceJob(task.source, list(self.settings.seeds), str(tmp), self.settings.device, self.settings.threads)
        report = self.sandbox.run(job, str(tmp), self.settings.timeout_s, self.settings.memory_mb)
        if report.status != "ok":
            raise TaskError(f"task '{task.name}': {_task_problem(report)}", hint=_first_line(report.log_tail))
        info = ReferenceInfo(report.input_shapes, report.output_shapes, report.output_dtypes, report.eager_ms, report.cases)
        (tmp / "info.json").write_text(json.dumps(info.__dict__))
        for leftover in ("log.txt", "report.json"):
            (tmp / leftover).unlink(missing_ok=True)
        directory.parent.mkdir(parents=True, exist_ok=True)
        if not directory.exists():
            os.replace(tmp, directory)  # atomic publish: readers never see half a reference
        shutil.rmtree(tmp, ignore_errors=True)
        return info

    # -- candidates ---------------------------------------------------------------------------

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
        job_dir = new_job_dir(self._jobs_root, "cand_")
        try:
            result = self._run_candidate(task, candidate, job_dir, profile, info.cases)
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)
        timings = {**result.timings_s, "total": time.perf_counter() - started}
        return replace(result, timings_s=timings)

    def _run_candidate(self, task: Task, candidate: Candidate, job_dir: str, profile: bool, cases: list[str]) -> EvalResult:
        s = self.settings
        job = CandidateJob(
            task.source, candidate.code, candidate.dsl, list(s.seeds), job_dir, s.device, s.threads,
            profile, s.warmup_times, s.run_times, s.baseline_compile, task.atol, task.rtol,
        )
        report = self.sandbox.run(job, job_dir, s.timeout_s, s.memory_mb)
        if report.status != "ok":
            return EvalResult(candidate.id, Status(report.status), report.message, log_tail=report.log_tail,
                              rule=report.rule, timings_s=report.timings_s)
        ref_dir = self._ref_dir(task)
        for case in cases:
            expected = torch.load(ref_dir / f"ref_{case}.pt", weights_only=True)
            actual = torch.load(Path(job_dir) / f"out_{case}.pt", weights_only=True)
            seed = int(case[4:]) if case.startswith("seed") else s.seeds[0]
            mismatch = compare_outputs(expected, actual, seed, task.atol, task.rtol)
            if mismatch is not None:
                where = f"seed {seed}" if case.startswith("seed") else f"dynamic-shape case {case[3:]}"
                message = f"output differs from PyTorch on {where}" + (f": {mismatch.detail}" if mismatch.detail else "")
                return EvalResult(candidate.id, Status.MISMATCH, message, mismatch=mismatch,
                                  seeds=list(s.seeds), timings_s=report.timings_s)
        if report.late_rule:
            return EvalResult(candidate.id, Status.REJECTED, report.late_message, rule=report.late_rule,
                              seeds=list(s.seeds), timings_s=report.timings_s)
        dyn = sum(1 for c in cases if c.startswith("dyn"))
        message = f"matches PyTorch on seeds {list(s.seeds)}" + (f" and {dyn} dynamic-shape cases" if dyn else "")
        return EvalResult(candidate.id, Status.PASSED, message, profile=report.profile,
                          seeds=list(s.seeds), timings_s=report.timings_s, notes=report.notes)


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _task_problem(report: WorkerReport) -> str:
    return report.message or f"validation failed ({report.status})"
