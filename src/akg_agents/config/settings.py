"""Settings: DSL defaults (YAML) < user file < AKG_AGENTS_* environment < command-line flags.

The user file is `~/.config/akg_agents/config.yaml` (or the path in AKG_AGENTS_CONFIG). Only keys
this module knows are accepted; a typo gets a one-line error naming the key, not silence.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from akg_agents.errors import ConfigError

ENV_PREFIX = "AKG_AGENTS_"


class ProfileSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    warmup_times: int = Field(5, ge=0)
    run_times: int = Field(30, ge=1)


class LLMSettings(BaseModel):
    """Model endpoints by level. Filled by the user file or AKG_AGENTS_* variables."""

    model_config = ConfigDict(extra="forbid")
    provider: str = ""  # openai_compat | anthropic | exchange | replay | fake ('' = none configured)
    base_url: str = ""
    api_key: str = ""
    models: dict[str, str] = Field(default_factory=dict)  # level -> model name
    exchange_dir: str = ""
    replay_file: str = ""
    timeout_s: float = 300.0


class SearchSettings(BaseModel):
    """The evolve and adaptive_search workflows (budgets beyond --max-candidates, and their policy)."""

    model_config = ConfigDict(extra="forbid")
    max_wall_s: float = Field(0.0, ge=0.0)  # stop starting candidates after this long (0: no limit)
    max_tokens: int = Field(0, ge=0)  # LLM path: stop once this many tokens were used (0: no limit)
    islands: int = Field(2, ge=1)  # evolve: independent populations
    elites: int = Field(2, ge=1)  # evolve: best kernels each island always keeps
    migrate_every: int = Field(4, ge=1)  # evolve: evaluations between migrations (each island's best to the next)
    exploit: float = Field(0.7, ge=0.0, le=1.0)  # evolve: share of parents drawn from the elites
    ucb_c: float = Field(0.7, ge=0.0)  # adaptive_search: weight of the exploration term
    converge_after: int = Field(6, ge=1)  # adaptive_search: stop after this many evaluations without ...
    converge_threshold: float = Field(0.02, ge=0.0)  # ... a relative improvement above this
    known_seeds: int = Field(3, ge=0)  # best kernels of earlier runs (kernel database) a run starts from
    seed: int = 0  # random choices (parents, mutations) are reproducible


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_model_config: dict[str, str] = Field(default_factory=dict)
    default_workflow: str = "kernelgen_only"
    profile_settings: ProfileSettings = Field(default_factory=lambda: ProfileSettings())
    verify_timeout: float = Field(60.0, gt=0)
    log_dir: str = "akg_runs"
    memory_limit_mb: int = Field(8192, ge=256)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=3)
    cache_dir: str = ""
    threads: int = Field(0, ge=0)
    skill_dirs: list[str] = Field(default_factory=list)
    # LLM workflows: a verified kernel slower than this many times eager gets an optimization round
    # (0 disables it; replay tests do, since the decision depends on a timing).
    optimize_below_speedup: float = Field(1.0, ge=0.0)
    # At most this many optimization rounds for verified-but-slow kernels (then the run stops):
    # bounds the spend, and lets replayed conversations end the same way on any machine.
    optimize_rounds: int = Field(4, ge=0)
    # Without output for this many seconds while a task is prepared or a candidate evaluated, the
    # CLI prints a line saying what is still running (a hang shows, and so does a slow compile).
    progress_after_s: float = Field(15.0, gt=0)
    llm: LLMSettings = Field(default_factory=lambda: LLMSettings())
    # Evaluate on Ray actors, one per device across the cluster: 'auto' (a running cluster on this
    # machine), 'local' (start one for this run), 'HOST:PORT' or 'ray://HOST:PORT'; '' = this machine.
    ray_address: str = ""
    # CPU DSLs on Ray: how many CPU "devices" (actors) across the cluster (0: one per node).
    ray_cpu_devices: int = Field(0, ge=0)
    search: SearchSettings = Field(default_factory=lambda: SearchSettings())

    def resolved_cache_dir(self) -> str:
        return self.cache_dir or str(Path.home() / ".cache" / "akg_agents")


def load_targets() -> dict[str, Any]:
    """{'frameworks': [...], 'backends': {name: {'archs': [...], 'dsls': [...]}}}: the frameworks
    from targets.yaml, the rest from the installed backend and DSL plugins (dsl/registry.py)."""
    from akg_agents.dsl.registry import target_table

    text = resources.files("akg_agents.config").joinpath("targets.yaml").read_text()
    data: dict[str, Any] = yaml.safe_load(text)
    data["backends"] = {name: {"archs": list(archs), "dsls": dsls} for name, (archs, dsls) in target_table().items()}
    return data


def validate_target(framework: str, backend: str, arch: str, dsl: str) -> None:
    """One line naming the valid choices when a combination is wrong."""
    from akg_agents.dsl.registry import validate_target as validate_plugin_target

    frameworks = load_targets()["frameworks"]
    if framework not in frameworks:
        raise ConfigError(f"unknown --framework '{framework}'; valid: {', '.join(frameworks)}")
    validate_plugin_target(backend, arch, dsl)


def _dsl_defaults(dsl: str) -> dict[str, Any]:
    path = resources.files("akg_agents.config").joinpath("dsl", f"{dsl}.yaml")
    if not path.is_file():
        return {}
    data: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return data


def user_file() -> Path:
    explicit = os.environ.get(ENV_PREFIX + "CONFIG")
    return Path(explicit) if explicit else Path.home() / ".config" / "akg_agents" / "config.yaml"


def _user_settings() -> dict[str, Any]:
    path = user_file()
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    return data


# The original akg_agents tool's single-model variables (one model for every level), accepted as
# aliases so a user's existing environment keeps working. Our own AKG_AGENTS_LLM__* win over them.
LEGACY_ENV = {"BASE_URL": ("base_url",), "API_KEY": ("api_key",), "PROVIDER_TYPE": ("provider",),
              "MODEL_NAME": ("models", "complex"), "MODEL_ENABLE_THINK": ()}
LEGACY_PROVIDERS = {"openai": "openai_compat", "openai_compat": "openai_compat", "anthropic": "anthropic"}


def _legacy_env_settings() -> dict[str, Any]:
    """AKG_AGENTS_BASE_URL / API_KEY / MODEL_NAME / PROVIDER_TYPE -> the llm.* settings. The model
    name serves every level; MODEL_ENABLE_THINK is accepted and has nothing to set (reasoning is
    always separated from the answer)."""
    llm: dict[str, Any] = {}
    for name, target in LEGACY_ENV.items():
        value = os.environ.get(ENV_PREFIX + name, "")
        if not value or not target:
            continue
        if target == ("models", "complex"):
            llm["models"] = {level: value for level in ("complex", "standard", "fast")}
        elif target == ("provider",):
            llm["provider"] = LEGACY_PROVIDERS.get(value.lower(), value)
        else:
            llm[target[0]] = value
    return {"llm": llm} if llm else {}


def _env_settings() -> dict[str, Any]:
    """AKG_AGENTS_VERIFY_TIMEOUT=30, AKG_AGENTS_LLM__API_KEY=... (double underscore = nesting)."""
    found: dict[str, Any] = {}
    for key, value in os.environ.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG" or key[len(ENV_PREFIX):] in LEGACY_ENV:
            continue
        path = key[len(ENV_PREFIX):].lower().split("__")
        node = found
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = yaml.safe_load(value) if value else value
    return found


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(dsl: str = "cpp", overrides: dict[str, Any] | None = None) -> Settings:
    legacy = _legacy_env_settings()
    layers = [_dsl_defaults(dsl), _user_settings(), _merge(legacy, _env_settings()), overrides or {}]
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = _merge(merged, layer)
    if legacy and not merged.get("llm", {}).get("provider"):
        merged["llm"]["provider"] = "openai_compat"  # what the original tool's variables always meant
    try:
        return Settings(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        raise ConfigError(f"setting '{'.'.join(loc)}': {first['msg']}", hint=_source_hint(loc, layers)) from None


def _source_hint(loc: list[str], layers: list[dict[str, Any]]) -> str:
    """Where the bad value came from: the layer that set it last (never a file that does not exist)."""
    for index in range(len(layers) - 1, 0, -1):
        node: Any = layers[index]
        for part in loc:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = _MISSING
                break
        if node is _MISSING:
            continue
        if index == 1:
            return f"it is set in {user_file()}"
        if index == 2:
            return f"it is set by {ENV_PREFIX}{'__'.join(p.upper() for p in loc if not p.isdigit())}"
        return "it is set on the command line"
    present = [str(user_file())] if user_file().exists() else []
    present += sorted(k for k in os.environ if k.startswith(ENV_PREFIX) and k != ENV_PREFIX + "CONFIG")
    return f"check {', '.join(present)}" if present else "check the DSL's defaults"


_MISSING = object()
