"""The shared vocabulary of akg_agents.

Every layer passes these records, never loose dicts. They are plain dataclasses (stdlib only) so
the sandboxed worker can import them with nothing but the standard library and torch, and every
record round-trips through JSON (`to_json` / `from_json`) because the run store and the worker
protocol both speak JSON lines.

    Task          what to implement: a KernelBench-format module (source text + where it came from)
    Candidate     one attempt: code in a DSL, with lineage (parent, agent, step)
    EvalResult    what the verifier and profiler found, with evidence an LLM can learn from
    ProfileResult timings (median and spread) for the candidate and its baselines
    RunConfig     what a run was asked to do (flags after config resolution)
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class Status(str, enum.Enum):
    """Outcome of evaluating one candidate. Order = how far the candidate got."""

    COMPILE_ERROR = "compile_error"  # source did not build or import
    RUNTIME_ERROR = "runtime_error"  # raised, crashed (segfault) or ran out of memory
    TIMEOUT = "timeout"  # exceeded the wall-clock limit (hang, infinite loop)
    MISMATCH = "mismatch"  # ran, but outputs differ from PyTorch's
    REJECTED = "rejected"  # broke a rule of the contract (static or runtime anti-cheat check)
    PASSED = "passed"  # matched PyTorch on every seed and check

    @property
    def ok(self) -> bool:
        return self is Status.PASSED


@dataclass(frozen=True)
class Task:
    """A KernelBench-format task: `Model`, `get_inputs()`, `get_init_inputs()`.

    `source` is the effective source (after any size scaling); `sizes` records the module-level
    constants that were changed from the original file, so shapes used are always reported.
    """

    name: str
    source: str
    path: str = ""
    sizes: dict[str, int] = field(default_factory=dict)
    atol: float | None = None  # per-task tolerance override (None: by dtype)
    rtol: float | None = None

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Candidate:
    """One attempt at the task: a Python module defining `ModelNew`."""

    id: str
    dsl: str
    code: str
    agent: str = "builtin"  # who wrote it: builtin | kernel_gen | conductor | user
    parent_id: str | None = None
    step: int = 0
    params: dict[str, Any] = field(default_factory=dict)  # tunable parameters used to generate it
    note: str = ""  # why this candidate exists (a design summary, a fix reason)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.code.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Timing:
    """Milliseconds per call: median and spread (p90 - p10) over `runs` timed calls."""

    median_ms: float
    spread_ms: float
    runs: int
    min_ms: float = 0.0


@dataclass(frozen=True)
class ProfileResult:
    candidate: Timing
    eager: Timing
    compiled: Timing | None = None  # torch.compile baseline, when asked for (timed when the task was prepared)
    threads: int = 0
    flags: list[str] = field(default_factory=list)  # e.g. suspicious speedup warnings
    # Faster than physically possible (below the roofline floor): flagged, never counted as a speedup.
    below_floor: bool = False
    input_sets: int = 0  # distinct fresh input sets the timed calls ran on
    timed_checked: int = 0  # timed calls whose outputs the referee checked against the reference

    @property
    def counted(self) -> bool:
        """Whether this timing may count as a speedup (bench tables, best-candidate choice)."""
        return not self.below_floor

    @property
    def speedup(self) -> float:
        return self.eager.median_ms / max(self.candidate.median_ms, 1e-9)

    @property
    def speedup_vs_compile(self) -> float | None:
        if self.compiled is None:
            return None
        return self.compiled.median_ms / max(self.candidate.median_ms, 1e-9)


@dataclass(frozen=True)
class Mismatch:
    """The worst disagreement found, stated so a person or a model can act on it."""

    seed: int
    output_index: int
    element: list[int]  # multi-index of the worst element
    expected: float
    actual: float
    abs_err: float
    bad_count: int
    total: int
    detail: str = ""  # e.g. "NaN positions differ", "shape (4, 8) != (4, 4)"


@dataclass(frozen=True)
class EvalResult:
    candidate_id: str
    status: Status
    message: str  # one line: what happened
    log_tail: str = ""  # compiler / runtime output, last lines
    rule: str | None = None  # the anti-cheat rule that fired, for REJECTED
    mismatch: Mismatch | None = None
    profile: ProfileResult | None = None
    seeds: list[int] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)  # compile / verify / profile wall time
    notes: str = ""  # compiler evidence for tuning (e.g. loops g++ did not vectorize)

    @property
    def ok(self) -> bool:
        return self.status.ok

    def feedback(self) -> str:
        """The evidence as text, for the next prompt or the Conductor."""
        lines = [f"status: {self.status.value}", f"message: {self.message}"]
        if self.rule:
            lines.append(f"rule: {self.rule}")
        if self.mismatch is not None:
            m = self.mismatch
            lines.append(
                f"worst mismatch (seed {m.seed}, output {m.output_index}, index {tuple(m.element)}): "
                f"expected {m.expected:.6g}, got {m.actual:.6g}, abs err {m.abs_err:.3g}; "
                f"{m.bad_count}/{m.total} elements out of tolerance {m.detail}".rstrip()
            )
        if self.log_tail:
            lines.append("log tail:\n" + self.log_tail)
        if self.notes:
            lines.append(self.notes)
        if self.profile is not None:
            p = self.profile
            lines.append(
                f"time: candidate {p.candidate.median_ms:.4f} ms, eager {p.eager.median_ms:.4f} ms, "
                f"speedup {p.speedup:.2f}x"
            )
        return "\n".join(lines)


@dataclass(frozen=True)
class RunConfig:
    """Everything a run was asked to do, after settings, environment and flags were merged."""

    framework: str
    backend: str
    arch: str
    dsl: str
    workflow: str
    model: str
    devices: list[int] = field(default_factory=lambda: [0])
    baseline: str = "eager"  # eager | compile
    max_candidates: int = 4
    max_step: int = 6
    verify_timeout_s: float = 60.0
    warmup_times: int = 5
    run_times: int = 30
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    threads: int = 0  # CPU threads for candidate and eager (0: all cores)
    memory_limit_mb: int = 8192
    scale_budget_ms: float | None = None  # shrink task sizes until the reference runs this fast
    precision: str = "fp32"  # KernelBench's option: inputs and weights cast to fp32 | fp16 | bf16
    allow_tf32: bool = False  # fp32 tasks: accept TF32 matrix math (looser fp32 tolerance)
    agent_models: dict[str, str] = field(default_factory=dict)
    # Deferred evaluation: candidates are written as bundles to this folder and evaluated later
    # elsewhere (`akg_cli evaluate DIR`); '' evaluates here. Saved with the run so `resume` keeps it.
    defer_dir: str = ""


# ----------------------------------------------------------------------------------------------
# JSON round trip. Dataclass fields that hold records are rebuilt from their annotations, so a
# record read back from results.jsonl is the same record that was written.

_RECORDS: dict[str, type] = {}


def register(*classes: type) -> None:
    """Make records of other modules (the worker protocol) rebuildable by from_dict."""
    for cls in classes:
        _RECORDS[cls.__name__] = cls


register(Task, Candidate, Timing, ProfileResult, Mismatch, EvalResult, RunConfig)


def to_dict(record: Any) -> dict[str, Any]:
    def encode(value: Any) -> Any:
        if isinstance(value, enum.Enum):
            return value.value
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if isinstance(value, dict):
            return {k: encode(v) for k, v in value.items()}
        return value

    result = encode(record)
    assert isinstance(result, dict)
    return result


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        # Annotations are strings here (postponed evaluation): "Timing | None" -> "Timing".
        kinds = [part.strip() for part in str(f.type).split("|")]
        if "Status" in kinds and value is not None:
            value = Status(value)
        else:
            nested = next((name for name in kinds if name in _RECORDS), None)
            listed = next((name[5:-1] for name in kinds if name.startswith("list[") and name[5:-1] in _RECORDS), None)
            if nested is not None and isinstance(value, dict):
                value = from_dict(_RECORDS[nested], value)
            elif listed is not None and isinstance(value, list):
                value = [from_dict(_RECORDS[listed], v) if isinstance(v, dict) else v for v in value]
        kwargs[f.name] = value
    return cls(**kwargs)


def to_json(record: Any) -> str:
    return json.dumps(to_dict(record), sort_keys=True)


def from_json(cls: type[T], text: str) -> T:
    return from_dict(cls, json.loads(text))
