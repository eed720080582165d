"""PolyConfigAgent: proposes a PolyTOPS scheduler config (YAML) for a loop nest, not code.

It is shown the nest (loop-nest DSL), the config keys, the presets, the built-in generator's
default and every earlier attempt with its outcome (verifier verdict and timing, or the
scheduler's error), and answers one ```yaml block. The answer is validated here (unknown keys,
wrong types, statements or loops that do not exist): an invalid one goes back to the model with
the reason, in the same conversation (AgentIO.ask), so what reaches the scheduler is well formed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from akg_agents.agents.parsing import ParseError, code_blocks
from akg_agents.agents.prompting import AgentIO
from akg_agents.builtin.poly_config import config_yaml, parse_yaml, schema_text, validate_config
from akg_agents.poly.config import ConfigError


@dataclass(frozen=True)
class Attempt:
    name: str  # candidate id (llm-N)
    config: str  # the YAML as proposed (normalized)
    outcome: str  # the verifier's feedback, or the scheduler's error


@dataclass(frozen=True)
class NestView:
    """What the prompt shows of the task's loop nest (builtin/poly_config.nest_info)."""

    nest: str
    ops: list[str]
    loops: dict[str, list[str]]
    default: dict[str, Any]


def parse_config_answer(text: str, loops: dict[str, list[str]]) -> dict[str, Any]:
    """The config mapping of the answer's last ```yaml block (or its only unlabelled block)."""
    blocks = code_blocks(text)
    yamls = [code for lang, code in blocks if lang in ("yaml", "yml")] or [code for lang, code in blocks if not lang]
    if not yamls:
        raise ParseError("the answer has no ```yaml block with the config")
    try:
        data = parse_yaml(yamls[-1])
        validate_config(data, loops)
    except ConfigError as problem:
        raise ParseError(f"invalid config: {problem}") from None
    return data


class PolyConfigAgent:
    def __init__(self, io: AgentIO, level: str = "standard") -> None:
        self.io = io
        self.level = level

    async def propose(self, variables: dict[str, Any], view: NestView, history: list[Attempt],
                      best: str) -> dict[str, Any]:
        """`variables`: the job's (KernelJob.variables()) plus `threads`."""
        prompt = {**variables, "nest": view.nest, "ops": ", ".join(view.ops), "schema": schema_text(),
                  "default": config_yaml(view.default), "history": history, "best": best}
        config, _ = await self.io.ask("poly_config", "poly_config.j2", prompt, self.level,
                                      lambda text: parse_config_answer(text, view.loops))
        return config
