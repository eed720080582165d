"""What the parent, the sandboxed worker and the referee say to each other (JSON, via records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from akg_agents.records import ProfileResult, register


@dataclass(frozen=True)
class RefereeLink:
    """How a job reaches its device's referee: the socket, the session token, the CPU slots, and
    what the reference does that a candidate may copy (alias an input, change an input)."""

    socket: str
    token: str
    slots: list[str] = field(default_factory=list)
    aliases: list[list[int]] = field(default_factory=list)  # per output: inputs the reference's output overlaps
    mutated_inputs: list[int] = field(default_factory=list)  # inputs the reference itself changes
    # CPU: shared-memory files the referee copies each timed call's fresh inputs into
    # ({"path", "shape", "dtype"} per tensor input, None for a scalar); empty: inputs by seed.
    input_slots: list[dict[str, Any] | None] = field(default_factory=list)


@dataclass(frozen=True)
class CandidateJob:
    task_source: str
    candidate_code: str
    dsl: str
    seeds: list[int]
    out_dir: str  # the job's own directory (log, report)
    referee: RefereeLink
    device: str = "cpu"
    threads: int = 0
    profile: bool = True
    warmup_times: int = 5
    run_times: int = 30
    precision: str = "fp32"
    profile_budget_s: float = 20.0  # timed rounds stop early (at least 5) to stay within this
    atol: float | None = None
    rtol: float | None = None
    allow_tf32: bool = False


@dataclass(frozen=True)
class RaceEntry:
    id: str
    dsl: str
    code: str


@dataclass(frozen=True)
class RaceJob:
    """Re-time finalists against eager in one process, round-robin on the same fresh inputs."""

    task_source: str
    entries: list[RaceEntry]
    seeds: list[int]
    out_dir: str
    referee: RefereeLink
    device: str = "cpu"
    threads: int = 0
    warmup_times: int = 5
    run_times: int = 30
    precision: str = "fp32"
    profile_budget_s: float = 20.0
    allow_tf32: bool = False


@dataclass(frozen=True)
class RaceOutcome:
    """Finalists re-timed side by side: their timings in order, or the one that failed."""

    timings: list[ProfileResult] = field(default_factory=list)
    failed: int | None = None  # index of a finalist that broke a rule or gave a wrong output
    message: str = ""


@dataclass(frozen=True)
class WorkerReport:
    """Written by the worker as report.json; absent when the worker died (the parent says why)."""

    status: str  # "ok" or an EvalResult status value
    message: str = ""
    rule: str | None = None
    log_tail: str = ""
    profile: ProfileResult | None = None
    race: list[ProfileResult] = field(default_factory=list)  # RaceJob: one per entry, in order
    notes: str = ""  # compiler evidence for a passed kernel (e.g. which loops were vectorized)
    timings_s: dict[str, float] = field(default_factory=dict)


register(RefereeLink, RaceEntry, CandidateJob, RaceJob, WorkerReport)
