"""poly_config: the model proposes PolyTOPS scheduler configs; the system writes the code.

    loop nest (built-in lowering) -> PolyConfigAgent: YAML config -> validate -> schedule (PolyTOPS)
        -> ModelNew (as the built-in generator emits it) -> verify + profile -> feedback -> next config

For tasks the built-in cpp lowering expresses as a loop nest (builtin/poly_lower.py: matrix
products, linear layers, convolutions and transposed convolutions, and chains of them joined by
pointwise ops); others are declined with the lowering's reason. Each proposal
is one of --max-candidates attempts: a config the scheduler cannot take (or one identical to an
earlier attempt) is told to the model in the next prompt instead of being evaluated. The model sees
every earlier config with its verdict and timing, and the best so far. Candidates are `llm-N`
with agent `poly_config`; their `params` hold the proposed config.

    akg_cli op --task T.py --backend cpu --dsl cpp --workflow poly_config --model llm
"""

from __future__ import annotations

import time
from typing import Any

from akg_agents.agents.poly_config import Attempt, NestView, PolyConfigAgent
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.poly_config import DSL, config_yaml
from akg_agents.errors import ConfigError, TaskError
from akg_agents.llm.meter import MeteredProvider
from akg_agents.records import Candidate, EvalResult, RunConfig, to_dict
from akg_agents.tasks import isolated
from akg_agents.workflows.base import RunContext, evaluate_one

SCHEDULE_TIMEOUT_S = 300.0  # one config's tracing + scheduling + code generation
WALL_TIMEOUT_S = 3600.0
OUTCOME_CHARS = 1500  # of the verifier's feedback, per attempt in the prompt


def _nest(ctx: RunContext) -> NestView:
    reply = isolated._run({"job": "poly_nest", "task": to_dict(ctx.task), "precision": ctx.config.precision})
    if "declined" in reply:
        raise NotCovered(f"the poly_config workflow needs a loop nest ({reply['declined']})")
    info = reply["info"]
    return NestView(info["nest"], info["ops"], info["loops"], info["default"])


def _code(ctx: RunContext, config: dict[str, Any]) -> tuple[str, str]:
    """(code, "") or ("", the reason the config gave no code)."""
    request = {"job": "poly_code", "task": to_dict(ctx.task), "precision": ctx.config.precision, "config": config,
               "threads": ctx.config.threads}
    try:
        reply = isolated._run(request, timeout_s=SCHEDULE_TIMEOUT_S)
    except TaskError as failed:  # the child died or ran out of time under this config
        return "", f"the scheduler gave no answer under this config: {failed}"
    if "declined" in reply:
        return "", f"declined: {reply['declined']}"
    return reply.get("code", ""), reply.get("error", "")


def _best_line(results: list[tuple[Candidate, EvalResult]]) -> str:
    timed = [(c, r) for c, r in results if r.ok and r.profile is not None]
    if not timed:
        return ""
    cand, res = max(timed, key=lambda cr: cr[1].profile.speedup if cr[1].profile else 0.0)
    assert res.profile is not None
    return f"{cand.id}, speedup {res.profile.speedup:.2f}x over eager"


def check_target(config: RunConfig) -> None:
    """Before anything runs (the CLI calls it too): a model to ask, and the DSL the nests are emitted in."""
    if config.model == "builtin":
        raise ConfigError("--workflow poly_config needs an LLM to propose configs",
                          hint="pass --model llm with a configured provider (akg_cli config init); the built-in "
                               "generator's own configs run with --model builtin and any other workflow")
    if config.dsl != DSL:
        raise ConfigError(f"--workflow poly_config schedules loop nests emitted as {DSL}, not {config.dsl}",
                          hint=f"use --backend cpu --dsl {DSL}")


async def run(ctx: RunContext, provider: MeteredProvider | None = None) -> None:
    check_target(ctx.config)
    from akg_agents.workflows.llm_loop import _last_step, _level, llm_setup, write_usage
    from akg_agents.workflows.search_run import open_kernel_db

    view = _nest(ctx)  # declined before any model call
    setup = llm_setup(ctx, provider)
    ctx.kernel_db = open_kernel_db(ctx)  # every candidate is recorded there too, as default's are
    agent = PolyConfigAgent(setup.io, _level(ctx.config.agent_models, "poly_config", "standard"))
    variables = {**setup.job.variables(), "threads": ctx.config.threads}
    ctx.store.event("poly_nest", ops=view.ops, statements=len(view.loops))
    ctx.reporter.info(f"poly_config: loop nest of {len(view.loops)} statement(s) for {', '.join(view.ops)}")
    try:
        await _propose_loop(ctx, agent, variables, view, _last_step(ctx))
    finally:
        write_usage(ctx, setup.llm)
        ctx.kernel_db.close()
        ctx.kernel_db = None


async def _propose_loop(ctx: RunContext, agent: PolyConfigAgent, variables: dict[str, Any], view: NestView,
                        step: int) -> None:
    budget = min(ctx.config.max_candidates, ctx.config.max_step)
    deadline = time.monotonic() + WALL_TIMEOUT_S
    # a resumed run: the configs evaluated before are earlier attempts (with their outcomes) too
    results = sorted(((c, r) for c, r in ctx.store.results.values() if c.agent == "poly_config"),
                     key=lambda cr: cr[0].step)
    history = [Attempt(c.id, config_yaml(c.params["config"]), r.feedback()[:OUTCOME_CHARS]) for c, r in results]
    tried = {a.config: a.name for a in history}  # config YAML -> the attempt that proposed it
    for _ in range(budget):
        if time.monotonic() > deadline:
            ctx.store.event("stop", reason="wall-clock timeout reached")
            return
        config = await agent.propose(variables, view, history, _best_line(results))
        step += 1
        name, text = f"llm-{step}", config_yaml(config)
        ctx.reporter.info(f"poly_config {name}: {' '.join(text.split())[:160]}")
        if text in tried:
            history.append(Attempt(name, text, f"not evaluated: the same config as {tried[text]}"))
            continue
        tried[text] = name
        code, error = _code(ctx, config)
        if not code:
            ctx.store.event("poly_config_error", candidate=name, config=config, error=error[:500])
            ctx.reporter.info(f"poly_config {name}: {error[:160]}")
            history.append(Attempt(name, text, error))
            continue
        best = max(results, key=lambda cr: cr[1].profile.speedup if cr[1].ok and cr[1].profile else -1.0,
                   default=None)
        candidate = Candidate(id=name, dsl=ctx.config.dsl, code=code, agent="poly_config",
                              parent_id=best[0].id if best and best[1].ok else None, step=step,
                              params={"generator": "poly_config", "config": config},
                              note=f"PolyTOPS config from the model: {' '.join(text.split())}"[:200])
        result = await evaluate_one(ctx, candidate, profile=True)
        results.append((candidate, result))
        history.append(Attempt(name, text, result.feedback()[:OUTCOME_CHARS]))
    ctx.store.event("stop", reason=f"{budget} config(s) proposed (--max-candidates)")
