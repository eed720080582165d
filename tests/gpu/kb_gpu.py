"""Shared by the GPU tests that run KernelBench level-1 tasks through the verifier: where the
files are, a task at given sizes and dtype, and a verifier on the GPU."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from akg_agents.records import Task
from akg_agents.tasks.scale import with_sizes
from akg_agents.verify.evaluate import Verifier, VerifySettings
from akg_agents.verify.sandbox import Sandbox

# KernelBench beside the checkout (../shared/kernelbench), or where AKG_KERNELBENCH points (a KernelBench
# folder holding level1/: on a GPU machine the checkout is copied without ../shared).
LEVEL1 = Path(os.environ.get("AKG_KERNELBENCH") or Path(__file__).resolve().parents[3] / "shared" / "kernelbench" / "KernelBench") / "level1"


def kernelbench_task(problem: str, sizes: dict[str, int], dtype: str) -> Task:
    """The problem's file at `sizes` (empty: published); fp16 / bf16 cast its floating inputs
    (tasks without weights only: the verifier's precision option is what casts parameters)."""
    found = sorted(LEVEL1.glob(f"{problem}_*.py"))
    if not found:
        pytest.skip(f"KernelBench level 1 problem {problem} is not at {LEVEL1}")
    task = Task(found[0].stem, found[0].read_text())
    task = with_sizes(task, sizes) if sizes else task
    if dtype != "float32":
        source = task.source.replace("def get_inputs(", "def get_inputs_fp32(") + (
            f"\n\ndef get_inputs():\n    return [t.to(torch.{dtype}) if isinstance(t, torch.Tensor) and t.is_floating_point()"
            " else t for t in get_inputs_fp32()]\n")
        task = Task(f"{task.name}_{dtype}", source)
    return task


def gpu_verifier(tmp_path_factory: pytest.TempPathFactory, name: str, results: list[Any], json_env: str) -> Iterator[Verifier]:
    """A verifier on cuda (Triton preloaded in the sandbox); at the end, `results` go to the file
    the environment variable `json_env` names, if set."""
    cache = str(tmp_path_factory.mktemp(name))
    settings = VerifySettings(device="cuda", timeout_s=600.0, warmup_times=5, run_times=20, memory_mb=65536)
    verifier = Verifier(settings, cache, sandbox=Sandbox(os.path.join(cache, "sb"), env_extra={"AKG_AGENTS_PRELOAD": "triton"}))
    yield verifier
    verifier.close()
    path = os.environ.get(json_env)
    if path:
        with open(path, "w") as f:
            json.dump(results, f, indent=1)
