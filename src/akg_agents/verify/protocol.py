"""What the parent and the sandboxed worker say to each other (JSON lines, via records)."""

from __future__ import annotations

from dataclasses import dataclass, field

from akg_agents.records import ProfileResult


@dataclass(frozen=True)
class ReferenceJob:
    """Validate a task and compute its reference outputs, before any candidate code is loaded."""

    task_source: str
    seeds: list[int]
    out_dir: str  # where ref_seed{N}.pt files go
    device: str = "cpu"
    threads: int = 0
    time_runs: int = 5


@dataclass(frozen=True)
class CandidateJob:
    task_source: str
    candidate_code: str
    dsl: str
    seeds: list[int]
    out_dir: str  # where out_seed{N}.pt files go
    device: str = "cpu"
    threads: int = 0
    profile: bool = True
    warmup_times: int = 5
    run_times: int = 30
    baseline_compile: bool = False
    atol: float | None = None
    rtol: float | None = None


@dataclass(frozen=True)
class WorkerReport:
    """Written by the worker as report.json; absent when the worker died (the parent says why)."""

    status: str  # "ok" or an EvalResult status value
    message: str = ""
    rule: str | None = None
    log_tail: str = ""
    cases: list[str] = field(default_factory=list)  # seedN / dynK labels the references cover
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    output_dtypes: list[str] = field(default_factory=list)
    eager_ms: float = 0.0
    profile: ProfileResult | None = None
    # A rule broken while timing. Reported only if the outputs matched: a wrong kernel is a
    # mismatch first, whatever it did afterwards.
    notes: str = ""  # compiler evidence for a passed kernel (e.g. which loops were vectorized)
    late_rule: str | None = None
    late_message: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
