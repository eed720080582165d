"""Without Ray installed, --ray-address is one line saying how to install it (ray is optional)."""

from __future__ import annotations

import importlib.util

import pytest

from akg_agents.errors import ConfigError
from akg_agents.runtime import remote


def test_ray_address_without_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    with pytest.raises(ConfigError) as error:
        remote.require_ray()
    assert "not installed" in str(error.value) and "pip install 'akg_agents[ray]'" in error.value.hint
