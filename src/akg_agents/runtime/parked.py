"""RunParked: a run stopped on purpose, waiting for evaluation results from another machine.

Deferred evaluation (runtime/deferred.py) writes each evaluation job as a bundle and raises this
instead of evaluating. The runner records the state in the run directory; the CLI prints how to
continue and exits with PARKED_EXIT. It is neither a failure of the candidate nor a broken
system, so it is not an AkgError. Standard library only: cli/app.py imports it on every command.
"""

from __future__ import annotations

from pathlib import Path

PARKED_EXIT = 75  # EX_TEMPFAIL (sysexits.h): "try again later", here once the bundles are evaluated


class RunParked(Exception):
    """`waiting` is shared with the evaluator that parked: bundles written by sibling evaluations
    that reach the evaluator before the run stops are listed too."""

    def __init__(self, defer_dir: Path, waiting: list[str], written: list[str] | None = None) -> None:
        super().__init__(f"parked: {len(waiting)} evaluation job(s) waiting in {defer_dir}")
        self.defer_dir = defer_dir
        self.waiting = waiting
        self.written = written if written is not None else waiting  # bundles written by this session
        self.resume_command = ""  # filled by whoever knows what to resume (a run, a bench)
        self.runs: list[Path] = []

    def message(self) -> str:
        jobs = sorted(set(self.waiting))
        runs = f" ({len(self.runs)} run(s))" if len(self.runs) > 1 else ""
        head = (f"parked{runs}: {len(jobs)} evaluation job(s) written to {self.defer_dir}" if self.written else
                f"parked{runs}: still waiting for {len(jobs)} evaluation job(s) in {self.defer_dir} (no result yet)")
        return (f"{head}\n"
                f"  1. on a host with the device and akg_agents (no network or model needed): "
                f"akg_cli evaluate {self.defer_dir}\n"
                f"  2. bring {self.defer_dir} back here (results are written next to the bundles), then: "
                f"{self.resume_command or 'akg_cli resume RUN'}")

    @classmethod
    def merged(cls, parked: list[RunParked], resume_command: str) -> RunParked:
        """Several runs parked (a bench): one message for all of them."""
        first = parked[0]
        combined = cls(first.defer_dir, [job for p in parked for job in p.waiting], [job for p in parked for job in p.written])
        combined.runs = [run for p in parked for run in p.runs]
        combined.resume_command = resume_command
        return combined


__all__ = ["PARKED_EXIT", "RunParked"]
