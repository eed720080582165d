from __future__ import annotations

from pathlib import Path

import pytest

from akg_agents.config.settings import load_settings, validate_target
from akg_agents.errors import ConfigError


def test_valid_target_passes() -> None:
    validate_target("torch", "cpu", "x86_64", "cpp")
    validate_target("torch", "cuda", "h100", "triton_cuda")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("jax", "cpu", "x86_64", "cpp"), "valid: torch"),
        (("torch", "gpu", "x86_64", "cpp"), "valid: cpu, cuda, ascend"),
        (("torch", "cpu", "h100", "cpp"), "valid: x86_64, aarch64"),
        (("torch", "cpu", "x86_64", "triton_cuda"), "valid: cpp"),
    ],
)
def test_wrong_combination_lists_the_valid_choices(args: tuple[str, str, str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        validate_target(*args)


def test_layers_dsl_yaml_then_user_file_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "config.yaml"
    user.write_text("verify_timeout: 30\nprofile_settings:\n  run_times: 7\n")
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(user))
    monkeypatch.setenv("AKG_AGENTS_VERIFY_TIMEOUT", "12")
    settings = load_settings("cpp")
    assert settings.verify_timeout == 12  # env beats the file
    assert settings.profile_settings.run_times == 7  # file beats the DSL default
    assert settings.profile_settings.warmup_times == 5  # DSL default
    assert settings.agent_model_config["conductor"] == "fast"


def test_unknown_setting_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "config.yaml"
    user.write_text("verify_timout: 30\n")
    monkeypatch.setenv("AKG_AGENTS_CONFIG", str(user))
    with pytest.raises(ConfigError, match="verify_timout"):
        load_settings("cpp")
