"""The run's settings tree, saved with it (secrets left out) so `resume` continues the run as it
was made: the same LLM provider, models and levels, timeouts and search policy, whatever the
environment says today. Only the secrets (API keys) come from the environment of the resume.

    <run>/settings.yaml
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from akg_agents.config.settings import Settings
from akg_agents.errors import RunStoreError

SETTINGS_FILE = "settings.yaml"
SECRETS = (("llm", "api_key"),)


def save_settings(root: Path, settings: Settings) -> Path:
    data: dict[str, Any] = settings.model_dump(mode="json")
    for section, key in SECRETS:
        data.get(section, {}).pop(key, None)
    path = root / SETTINGS_FILE
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)
    return path


def saved_settings(root: Path, current: Settings) -> Settings | None:
    """The saved tree with today's secrets put back; None for a run saved before settings were
    (it then runs with `current`)."""
    path = root / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text()) or {}
        for section, key in SECRETS:
            data.setdefault(section, {})[key] = getattr(getattr(current, section), key)
        return Settings(**data)
    except (yaml.YAMLError, ValidationError, TypeError, AttributeError) as problem:
        first = str(problem).splitlines()[0]
        raise RunStoreError(f"{path} cannot be read back as settings: {first}") from None


__all__ = ["SETTINGS_FILE", "save_settings", "saved_settings"]
