"""Evaluators that do not use this machine's devices: a Ray cluster's, or none (deferred bundles).

    evaluator = remote_evaluator(config, settings, verify)   # config.defer_dir or settings.ray_address

Ray is an optional extra: without it `--ray-address` is one line saying how to install it.
"""

from __future__ import annotations

import importlib.util

from akg_agents.config.settings import Settings
from akg_agents.errors import ConfigError
from akg_agents.records import RunConfig
from akg_agents.runtime.evaluator import Evaluator
from akg_agents.verify.evaluate import VerifySettings

RAY_MISSING = "--ray-address needs Ray, which is not installed"
RAY_HINT = "pip install 'akg_agents[ray]' (or pip install 'ray>=2.9'), or leave --ray-address out to use this machine's devices"


def require_ray() -> None:
    if importlib.util.find_spec("ray") is None:
        raise ConfigError(RAY_MISSING, hint=RAY_HINT)


def remote_evaluator(config: RunConfig, settings: Settings, verify: VerifySettings) -> Evaluator:
    if config.defer_dir:
        from akg_agents.runtime.deferred import DeferredEvaluator

        return DeferredEvaluator(config.defer_dir, config.dsl, verify, width=len(config.devices))
    return ray_evaluator(settings, verify, config.dsl)


def ray_evaluator(settings: Settings, verify: VerifySettings, dsl: str) -> Evaluator:
    require_ray()
    from akg_agents.runtime.ray_pool import RayEvaluator

    return RayEvaluator.connect(settings.ray_address, settings.cache_dir, verify, dsl, cpu_devices=settings.ray_cpu_devices)
