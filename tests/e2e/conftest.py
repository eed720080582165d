from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def cli(tmp_path: Path, cache_dir: Path):  # type: ignore[no-untyped-def]
    """Run `akg_cli` as a user does, in a temp folder, with an isolated settings file and cache."""

    def run(*args: str, timeout: float = 300, env: dict[str, str | None] | None = None, stdin: str | None = None,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`env`: variables to set (None: to remove); `stdin`: text piped in; `cwd`: default tmp_path."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AKG_AGENTS_")}
        environment.update({"AKG_AGENTS_CONFIG": str(tmp_path / "no_config.yaml"), "AKG_AGENTS_CACHE_DIR": str(cache_dir),
                            "COLUMNS": "200"})
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        return subprocess.run(
            [sys.executable, "-m", "akg_agents.cli", *args], cwd=cwd or tmp_path, env=environment,
            capture_output=True, text=True, timeout=timeout, input=stdin,
            stdin=None if stdin is not None else subprocess.DEVNULL,
        )

    return run
