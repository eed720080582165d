"""The LLM loop behind default, coder_only and kernelgen_only.

    [KernelDesigner] -> KernelGen -> verify -> Conductor: fix (edits, cheap model) | regenerate | stop

Bounded by --max-candidates (candidates evaluated by this invocation; RunConfig.max_step caps it
too) and a wall-clock timeout. Candidate ids (llm-N) continue across resumes. Every prompt and
response goes to <run>/prompts/, every decision to events.jsonl, token usage to llm_usage.json.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akg_agents.agents.analysis import OpAnalysis
from akg_agents.agents.conductor import Conductor
from akg_agents.agents.context import KernelJob
from akg_agents.agents.designer import KernelDesigner
from akg_agents.agents.kernel_gen import KernelGen
from akg_agents.agents.parsing import Decision
from akg_agents.agents.prompting import AgentIO
from akg_agents.dsl import get_plugin
from akg_agents.errors import LLMError
from akg_agents.llm.base import LEVELS
from akg_agents.llm.factory import build_provider
from akg_agents.llm.memo import MEMO_FILE
from akg_agents.llm.meter import TASK_USAGE_SUFFIX, USAGE_FILE, MeteredProvider
from akg_agents.records import Candidate, EvalResult
from akg_agents.skills import load_skills, render_skills, select_skills
from akg_agents.tasks.isolated import analyze_isolated
from akg_agents.workflows.base import RunContext, evaluate_one

WALL_TIMEOUT_S = 3600.0
SKILL_BUDGET_TOKENS = 3500


@dataclass
class Loop:
    ctx: RunContext
    job: KernelJob
    io: AgentIO
    fix_skills: str
    deadline: float
    optimize_below: float = 1.0  # settings.optimize_below_speedup
    optimize_rounds: int = 4  # settings.optimize_rounds
    rounds_spent: int = 0  # optimization rounds given to verified kernels so far
    history: list[str] = field(default_factory=list)
    step: int = 0  # numbering of candidate ids (continues across resumes)
    evaluated: int = 0  # candidates this loop evaluated (the budget)

    def candidate(self, code: str, agent: str, parent: str | None, note: str) -> Candidate:
        self.step += 1
        return Candidate(id=f"llm-{self.step}", dsl=self.ctx.config.dsl, code=code, agent=agent,
                         parent_id=parent, step=self.step, note=note[:200])

    def out_of_budget(self) -> str:
        if self.evaluated >= self.ctx.config.max_candidates:
            return f"{self.ctx.config.max_candidates} candidate(s) evaluated (--max-candidates)"
        if self.evaluated >= self.ctx.config.max_step:
            return f"max_step {self.ctx.config.max_step} reached"
        if time.monotonic() > self.deadline:
            return "wall-clock timeout reached"
        return ""


def _level(agent_models: dict[str, str], agent: str, default: str) -> str:
    """settings.agent_model_config maps an agent to a level (complex | standard | fast)."""
    chosen = agent_models.get(agent, default)
    return chosen if chosen in LEVELS else default


def _job(ctx: RunContext, analysis: OpAnalysis, skills: str) -> KernelJob:
    plugin = get_plugin(ctx.config.dsl)
    return KernelJob(ctx.task, ctx.config.dsl, ctx.config.backend, ctx.config.arch, plugin.contract(),
                     plugin.example(), plugin.language, analysis.text(), skills)


def _skills(ctx: RunContext, analysis: OpAnalysis, skill_dirs: list[str], stage: str) -> str:
    chosen = select_skills(load_skills(skill_dirs), ctx.config.dsl, stage, analysis.kinds,
                           ctx.task.source + "\n" + analysis.text(), SKILL_BUDGET_TOKENS)
    ctx.store.event("skills_selected", stage=stage, skills=[s.name for s in chosen],
                    categories=sorted({s.category for s in chosen}))
    return render_skills(chosen)


@dataclass
class LLMSetup:
    """What every LLM workflow needs before its first prompt."""

    llm: MeteredProvider
    analysis: OpAnalysis
    job: KernelJob
    io: AgentIO


def llm_setup(ctx: RunContext, provider: MeteredProvider | None = None) -> LLMSetup:
    settings = ctx.resolved_settings()  # the run's saved tree on resume, not today's environment
    llm = provider or build_provider(settings.llm, memo=ctx.store.root / MEMO_FILE)  # a resumed run pays once
    earlier = _earlier_usage(ctx)
    if earlier:
        llm.add_recorded(earlier)
    ctx.reporter.info(f"LLM provider: {llm.name}")
    analysis = analyze_isolated(ctx.task)  # the task's code runs in a child process, not here
    ctx.store.event("op_analysis", kinds=analysis.kinds, flops=analysis.flops, bytes=analysis.bytes,
                    intensity=round(analysis.intensity, 3))
    job = _job(ctx, analysis, _skills(ctx, analysis, settings.skill_dirs, "codegen"))
    io = AgentIO(llm, ctx.store, start=len(list((ctx.store.root / "prompts").glob("*.prompt.md"))))
    return LLMSetup(llm, analysis, job, io)


def write_usage(ctx: RunContext, llm: MeteredProvider) -> None:
    (ctx.store.root / USAGE_FILE).write_text(json.dumps(llm.summary(), indent=2))
    ctx.store.event("llm_usage", **llm.summary()["total"])
    ctx.reporter.info(llm.line())


async def run_llm(ctx: RunContext, design: bool, profile: bool, provider: MeteredProvider | None = None) -> None:
    settings = ctx.resolved_settings()
    setup = llm_setup(ctx, provider)
    llm, analysis, job, io = setup.llm, setup.analysis, setup.job, setup.io
    loop = Loop(ctx, job, io, _skills(ctx, analysis, settings.skill_dirs, "fix"), time.monotonic() + WALL_TIMEOUT_S,
                settings.optimize_below_speedup, settings.optimize_rounds, step=_last_step(ctx))
    levels = ctx.config.agent_models
    try:
        sketch = ""
        if design:
            design_job = _job(ctx, analysis, _skills(ctx, analysis, settings.skill_dirs, "design"))
            result = await KernelDesigner(io, _level(levels, "designer", "complex")).design(design_job)
            sketch = result.sketch
            ctx.store.event("designed", params=result.params)
            ctx.reporter.info(f"designer: sketch with {len(result.params)} tunable parameter(s)")
        await _iterate(loop, sketch, profile)
    except LLMError as problem:  # the run directory stays intact and resumable; the CLI prints the line
        ctx.store.event("llm_error", message=str(problem), hint=problem.hint)
        raise
    finally:
        write_usage(ctx, llm)


def _last_step(ctx: RunContext) -> int:
    """A resumed run numbers on after every llm-N it wrote, so no candidate file is overwritten."""
    steps = [int(p.stem[4:]) for p in (ctx.store.root / "candidates").glob("llm-*.py") if p.stem[4:].isdigit()]
    return max(steps, default=0)


def _earlier_usage(ctx: RunContext) -> dict[str, Any] | None:
    """Calls already made for this run: its own llm_usage.json when it is resumed (which includes
    the rest), else the TaskConstructor's calls when a model wrote the task (`--request`)."""
    candidates = [ctx.store.root / USAGE_FILE]
    if ctx.task.path:
        candidates.append(Path(ctx.task.path).with_suffix(TASK_USAGE_SUFFIX))
    for path in candidates:
        if path.is_file():
            try:
                data: dict[str, Any] = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            return data
    return None


async def _iterate(loop: Loop, sketch: str, profile: bool) -> None:
    ctx, job, levels = loop.ctx, loop.job, loop.ctx.config.agent_models
    gen = KernelGen(loop.io, _level(levels, "kernel_gen", "standard"), _level(levels, "kernel_fixer", "fast"))
    conductor = Conductor(loop.io, _level(levels, "conductor", "standard"))
    code = await gen.generate(job, sketch=sketch)
    candidate = loop.candidate(code, "kernel_gen", None, "first attempt" + (" from the design" if sketch else ""))
    while True:
        result = await evaluate_one(ctx, candidate, profile)
        loop.evaluated += 1
        loop.history.append(f"{candidate.id} ({candidate.agent}): {result.status.value}: {result.message[:160]}")
        if result.ok and not _slower_than_wanted(result, loop.optimize_below):
            ctx.store.event("stop", reason=f"{candidate.id} passed")
            return
        if result.ok:
            if loop.rounds_spent >= loop.optimize_rounds:
                ctx.store.event("stop", reason=f"{candidate.id} passed; {loop.optimize_rounds} optimization round(s) spent")
                return
            loop.rounds_spent += 1
        stop = loop.out_of_budget()
        if stop:
            ctx.store.event("stop", reason=stop)
            ctx.reporter.info(f"stopping: {stop}")
            return
        decision = await conductor.decide(job, candidate, result, loop.history[:-1],
                                          min(ctx.config.max_step, ctx.config.max_candidates) - loop.evaluated)
        ctx.store.event("decision", candidate=candidate.id, action=decision.action, reason=decision.reason,
                        suggestion=decision.suggestion[:500])
        ctx.reporter.info(f"conductor: {decision.action} ({decision.reason[:100]})")
        if decision.action == "stop":
            ctx.store.event("stop", reason=f"conductor: {decision.reason}")
            return
        candidate = await _next(loop, gen, candidate, result, decision, sketch)


def _slower_than_wanted(result: EvalResult, threshold: float) -> bool:
    """A verified kernel slower than eager PyTorch is not what the user asked for: keep going."""
    return result.profile is not None and result.profile.speedup < threshold


async def _next(loop: Loop, gen: KernelGen, candidate: Candidate, result: EvalResult, decision: Decision,
                sketch: str) -> Candidate:
    job = loop.job
    if decision.action == "fix":
        try:
            fixed = await gen.fix(KernelJob(**{**job.__dict__, "skills": loop.fix_skills}), candidate.code,
                                  result.feedback(), decision.suggestion or decision.reason)
            return loop.candidate(fixed, "conductor", candidate.id, f"fix: {decision.reason}")
        except LLMError as problem:  # edits that never applied: fall back to a full rewrite
            loop.ctx.store.event("fix_failed", candidate=candidate.id, reason=str(problem)[:300])
    code = await gen.generate(job, sketch=sketch, previous=candidate.code, feedback=result.feedback(),
                              suggestion=decision.suggestion or decision.reason)
    return loop.candidate(code, "kernel_gen", candidate.id, f"regenerate: {decision.reason}")
