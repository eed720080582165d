"""`akg_cli config init | show`: create the user settings file, show the merged settings (keys masked)."""

from __future__ import annotations

import os
from typing import Any

import typer
import yaml

from akg_agents.cli.app import console
from akg_agents.config.settings import load_settings, user_file
from akg_agents.errors import ConfigError
from akg_agents.llm.base import mask_secret

config_app = typer.Typer(no_args_is_help=True)

TEMPLATE = """\
# akg_agents settings. Environment variables override them: AKG_AGENTS_<KEY>, nested with '__'
# (e.g. AKG_AGENTS_LLM__API_KEY). Prefer the variable for the key: this file is plain text.
llm:
  provider: {provider}        # openai_compat | anthropic | exchange | replay
  base_url: "{base_url}"      # any OpenAI-compatible endpoint, e.g. https://api.deepseek.com/v1
  api_key: "{api_key}"
  models:                     # level -> model; a missing level falls back to the nearest one
    complex: "{model}"
    standard: "{model}"
    fast: "{model}"
  exchange_dir: "{exchange_dir}"   # exchange: requests and answers as files in this folder
  replay_file: ""             # set with a live provider to record; with provider replay to replay
  timeout_s: 300
agent_model_config:           # agent -> level
  designer: complex
  kernel_gen: standard
  conductor: fast
  kernel_fixer: fast
skill_dirs: []                # your own knowledge documents (markdown with front matter)
log_dir: akg_runs
"""


@config_app.command("init")
def init(
    provider: str = typer.Option("openai_compat", help="openai_compat | anthropic | exchange | replay"),
    base_url: str = typer.Option("", help="Endpoint for openai_compat (default: OpenAI's)."),
    model: str = typer.Option("", help="Model name used for every level (edit the file to differ by level)."),
    api_key: str = typer.Option("", help="API key to store in the file (an AKG_AGENTS_LLM__API_KEY variable is safer)."),
    exchange_dir: str = typer.Option("", help="Folder for the exchange provider."),
    force: bool = typer.Option(False, help="Overwrite an existing settings file."),
) -> None:
    """Write a commented settings file (~/.config/akg_agents/config.yaml or $AKG_AGENTS_CONFIG)."""
    path = user_file()
    if path.exists() and not force:
        raise ConfigError(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TEMPLATE.format(provider=provider, base_url=base_url, api_key=api_key, model=model,
                                    exchange_dir=exchange_dir))
    os.chmod(path, 0o600)  # it may hold a key
    settings = load_settings()  # what was written must load
    console.print(f"wrote {path}")
    from akg_agents.llm.factory import provider_problem

    problem = provider_problem(settings.llm)
    if problem is not None:
        # Written without what the provider needs (an API key, usually): runs keep working with the
        # built-in generator until it is filled in, instead of failing for want of a key.
        console.print(f"[yellow]note:[/] the LLM cannot be used yet: {problem}. Until then `akg_cli op` uses the "
                      "built-in generator" + (f"; {problem.hint}" if problem.hint else ""))
    console.print("check it with `akg_cli config show`")


def masked(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out[key] = masked(value)
        elif "key" in key.lower() or "token" in key.lower() or "secret" in key.lower():
            out[key] = mask_secret(str(value)) if value else ""
        else:
            out[key] = value
    return out


@config_app.command("show")
def show(dsl: str = typer.Option("cpp", help="Include this DSL's defaults.")) -> None:
    """Print the merged settings (defaults < file < AKG_AGENTS_* variables), secrets masked."""
    settings = load_settings(dsl)
    path = user_file()
    console.print(f"# settings file: {path}{'' if path.exists() else ' (not present)'}")
    env = sorted(k for k in os.environ if k.startswith("AKG_AGENTS_"))
    if env:
        console.print(f"# from the environment: {', '.join(env)}")
    console.print(yaml.safe_dump(masked(settings.model_dump()), sort_keys=False).rstrip(), markup=False)
