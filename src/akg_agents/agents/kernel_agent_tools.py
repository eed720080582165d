"""The kernel agents as tools: one call each, usable by any agent or script, not only by workflows.

    job = kernel_job(task, config, settings, "codegen")          # analysis (in a child) + skills
    sketch = await design_kernel(job, io)                          # KernelDesigner
    code = await generate_kernel(job, io, previous=..., feedback=..., suggestion="make it faster")

`generate_kernel` is KernelGen called directly: the session's KernelAgent uses it for "make it
faster" (the previous kernel, its verifier feedback and timing, and a suggestion go into the
prompt); verification stays with the caller (a verifier_only run), as in every workflow.
"""

from __future__ import annotations

from akg_agents.agents.analysis import OpAnalysis
from akg_agents.agents.context import KernelJob
from akg_agents.agents.designer import Design, KernelDesigner
from akg_agents.agents.kernel_gen import Inspiration, KernelGen
from akg_agents.agents.prompting import AgentIO
from akg_agents.config.settings import Settings
from akg_agents.dsl import get_plugin
from akg_agents.llm.base import LEVELS
from akg_agents.records import RunConfig, Task
from akg_agents.skills import load_skills, render_skills, select_skills

SKILL_BUDGET_TOKENS = 3500


def agent_level(config: RunConfig, agent: str, default: str) -> str:
    chosen = config.agent_models.get(agent, default)
    return chosen if chosen in LEVELS else default


def kernel_job(task: Task, config: RunConfig, settings: Settings, analysis: OpAnalysis | None = None,
               stage: str = "codegen") -> KernelJob:
    """What the kernel agents are told about the job. The task's code is analysed in a child
    process (it is user or model code), never in the caller's; pass `analysis` to reuse one."""
    from akg_agents.tasks.isolated import analyze_isolated

    analysis = analysis or analyze_isolated(task)
    plugin = get_plugin(config.dsl)
    chosen = select_skills(load_skills(settings.skill_dirs), config.dsl, stage, analysis.kinds,
                           task.source + "\n" + analysis.text(), SKILL_BUDGET_TOKENS)
    return KernelJob(task, config.dsl, config.backend, config.arch, plugin.contract(), plugin.example(),
                     plugin.language, analysis.text(), render_skills(chosen))


async def design_kernel(job: KernelJob, io: AgentIO, config: RunConfig) -> Design:
    """KernelDesigner as a tool: an algorithm sketch with tunable parameters."""
    return await KernelDesigner(io, agent_level(config, "designer", "complex")).design(job)


async def generate_kernel(job: KernelJob, io: AgentIO, config: RunConfig, sketch: str = "", previous: str = "",
                          feedback: str = "", suggestion: str = "",
                          inspirations: list[Inspiration] | None = None) -> str:
    """KernelGen as a tool: one whole candidate module (code defining ModelNew), not yet verified."""
    gen = KernelGen(io, agent_level(config, "kernel_gen", "standard"))
    return await gen.generate(job, sketch=sketch, previous=previous, feedback=feedback, suggestion=suggestion,
                              inspirations=inspirations)
