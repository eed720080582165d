"""The other half of deferred evaluation: run the bundles of a folder on the host with the device.

    summary = evaluate_bundles(Path("bundles"), devices=[0, 1], settings=settings)

Needs akg_agents and torch (and the DSL's toolchain, e.g. triton) and nothing else: no network,
no model, no API key. Each bundle is checked against its digest, evaluated by the same verifier a
local run uses (prepare: validate the task and time its baselines; candidate: verify and profile;
race: re-time finalists side by side), and its result written next to it the moment it is known,
so a killed evaluation keeps everything finished. A bundle that already has a valid result is not
evaluated again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from akg_agents.dsl import get_plugin
from akg_agents.errors import RunStoreError, TaskError, ToolchainError
from akg_agents.records import to_dict
from akg_agents.runtime.deferred import (
    BUNDLE_FILE,
    RESULT_FILE,
    VERSION,
    BundleBox,
    Job,
    error_outcome,
    job_from_bundle,
)
from akg_agents.runtime.device_pool import DevicePool
from akg_agents.runtime.evaluator import Evaluator

OnDone = Callable[[Job, str], None]  # a bundle's job and its verdict, as it is written


@dataclass
class EvaluationSummary:
    evaluated: list[tuple[Job, str]] = field(default_factory=list)
    already: int = 0  # bundles with a valid result: not evaluated again
    refused: list[str] = field(default_factory=list)  # bundles or results that fail their digest


def pending_bundles(box: BundleBox, summary: EvaluationSummary) -> list[tuple[Path, Job]]:
    pending = []
    for folder in box.bundle_dirs():
        try:
            job = job_from_bundle(json.loads((folder / BUNDLE_FILE).read_text()))
            if (folder / RESULT_FILE).is_file():
                box.outcome(job)  # raises when the result is not this bundle's
                summary.already += 1
                continue
        except (RunStoreError, json.JSONDecodeError, KeyError, TypeError) as problem:
            summary.refused.append(f"{folder.name}: {problem}")
            continue
        pending.append((folder, job))
    return pending


def evaluate_bundles(root: Path, devices: list[int], cache_dir: str, ray_address: str = "",
                     on_done: OnDone | None = None) -> EvaluationSummary:
    box, summary = BundleBox(root), EvaluationSummary()
    groups: dict[str, list[tuple[Path, Job]]] = {}
    for folder, job in pending_bundles(box, summary):  # one evaluator per DSL and verifier settings
        groups.setdefault(json.dumps([job.dsl, to_dict(job.settings)], sort_keys=True), []).append((folder, job))
    for jobs in groups.values():
        evaluator = _evaluator(jobs[0][1], devices, cache_dir, ray_address)
        try:
            _run_group(box, evaluator, jobs, summary, on_done)
        finally:
            evaluator.close()
    return summary


def _evaluator(job: Job, devices: list[int], cache_dir: str, ray_address: str) -> Evaluator:
    if ray_address:
        from akg_agents.runtime.remote import require_ray

        require_ray()
        from akg_agents.runtime.ray_pool import RayEvaluator

        return RayEvaluator.connect(ray_address, cache_dir, job.settings, job.dsl)
    problem = get_plugin(job.dsl).toolchain_problem()
    if problem:
        raise ToolchainError(f"bundles for {job.dsl}: {problem}")
    slots = ["cpu"] if job.settings.device == "cpu" else [str(d) for d in devices]
    return Evaluator(DevicePool(slots, cache_dir, job.settings))


def _run_group(box: BundleBox, evaluator: Evaluator, jobs: list[tuple[Path, Job]], summary: EvaluationSummary,
               on_done: OnDone | None) -> None:
    where = {"host": socket.gethostname(), "torch": torch.__version__, "akg_agents": VERSION}

    def done(folder: Path, job: Job, outcome: dict[str, Any]) -> None:
        box.write_result(folder, job, outcome, {**where, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        verdict = _verdict(outcome)
        summary.evaluated.append((job, verdict))
        if on_done is not None:
            on_done(job, verdict)

    for folder, job in (j for j in jobs if j[1].kind == "prepare"):
        done(folder, job, _prepare(evaluator, job))

    async def candidates() -> None:
        async def one(folder: Path, job: Job) -> None:
            try:
                result = await evaluator.evaluate(job.task, job.candidates[0], job.profile)
                outcome: dict[str, Any] = {"eval_result": to_dict(result)}
            except TaskError as error:
                outcome = error_outcome(error)
            done(folder, job, outcome)

        await asyncio.gather(*(one(f, j) for f, j in jobs if j.kind == "candidate"))

    asyncio.run(candidates())
    for folder, job in (j for j in jobs if j[1].kind == "race"):
        try:
            outcome = {"race": to_dict(evaluator.race(job.task, list(job.candidates)))}
        except TaskError as error:
            outcome = error_outcome(error)
        done(folder, job, outcome)


def _prepare(evaluator: Evaluator, job: Job) -> dict[str, Any]:
    """What `akg_cli op` does before its first candidate: the task fits, runs, has references."""
    try:
        problem = evaluator.fit_problem(job.task)
        if problem:
            raise TaskError(f"task '{job.task.name}' {problem}",
                            hint="scale the task file's size constants down (deferred runs cannot --scale-budget-ms)")
        return {"reference": dataclasses.asdict(evaluator.reference(job.task))}
    except TaskError as error:
        return error_outcome(error)


def _verdict(outcome: dict[str, Any]) -> str:
    if "error" in outcome:
        return f"error: {outcome['error']['message']}"
    if "reference" in outcome:
        return f"prepared (eager {outcome['reference']['eager_ms']:.4g} ms)"
    if "race" in outcome:
        race = outcome["race"]
        return f"raced {len(race['timings'])} finalist(s)" if race["timings"] else f"race: {race['message']}"
    result = outcome["eval_result"]
    speed = ""
    if result.get("profile"):
        p = result["profile"]
        speed = f", {p['eager']['median_ms'] / max(p['candidate']['median_ms'], 1e-9):.2f}x over eager"
    return f"{result['status']}{speed}: {result['message'][:100]}"


def main(argv: list[str] | None = None) -> int:
    """`python -m akg_agents.runtime.deferred_eval DIR`: the same as `akg_cli evaluate DIR` for a host
    that has only torch (+ the DSL's toolchain) and this project's source on PYTHONPATH."""
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="python -m akg_agents.runtime.deferred_eval", description=main.__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--devices", default="0", help="GPU numbers, e.g. 0,1")
    parser.add_argument("--cache-dir", default=os.environ.get("AKG_AGENTS_CACHE_DIR") or str(Path.home() / ".cache" / "akg_agents"))
    args = parser.parse_args(argv)
    if not list(args.folder.glob(f"*/{BUNDLE_FILE}")):
        print(f"error: {args.folder} holds no bundles (*/{BUNDLE_FILE})")
        return 2
    devices = [int(d) for d in args.devices.split(",") if d.strip()]
    summary = evaluate_bundles(args.folder, devices, args.cache_dir,
                               on_done=lambda job, verdict: print(f"  {job.bundle_id}  {job.kind}  {verdict}", flush=True))
    for problem in summary.refused:
        print(f"refused {problem}")
    print(f"{len(summary.evaluated)} bundle(s) evaluated, {summary.already} already had a result "
          f"(not evaluated again), {len(summary.refused)} refused; results are in {args.folder}")
    return 1 if summary.refused else 0


__all__ = ["EvaluationSummary", "evaluate_bundles", "main", "pending_bundles"]

if __name__ == "__main__":
    raise SystemExit(main())
