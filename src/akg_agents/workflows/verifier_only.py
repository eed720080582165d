"""verifier_only: check (and profile) code that already exists; nothing is generated."""

from __future__ import annotations

from pathlib import Path

from akg_agents.dsl import get_plugin
from akg_agents.errors import ConfigError
from akg_agents.records import Candidate
from akg_agents.workflows.base import RunContext, evaluate_one


async def run(ctx: RunContext) -> None:
    if not ctx.kernel_path:
        raise ConfigError("the verifier_only workflow needs existing code: pass --kernel FILE")
    path = Path(ctx.kernel_path)
    if not path.is_file():
        raise ConfigError(f"kernel file not found: {path}")
    code = path.read_text()
    # An exported kernel inlines its loader (it runs without akg_agents); judged, it loads
    # through the project's loader like any candidate.
    unexport = getattr(get_plugin(ctx.config.dsl), "unexport", None)
    code = unexport(code) if unexport is not None else code
    candidate = Candidate(id=path.stem.replace(".", "_"), dsl=ctx.config.dsl, code=code, agent="user")
    await evaluate_one(ctx, candidate, profile=True)
