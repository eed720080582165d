"""Parent side of the sandbox: owns one warm fork server per device and runs jobs on it.

A job that crashes, hangs, floods its output or runs out of memory comes back as a WorkerReport
with a failure status; only a server that cannot start at all raises (WorkerError).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from akg_agents.errors import WorkerError
from akg_agents.records import Status, from_json, to_dict
from akg_agents.verify.protocol import CandidateJob, RaceJob, WorkerReport

# Environment the worker may see. Everything else (API keys above all) is dropped.
ENV_KEEP = {
    "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME", "CUDA_PATH", "CXX", "CC", "TRITON_CACHE_DIR", "TORCH_EXTENSIONS_DIR", "AKG_AGENTS_CACHE",
    "NVIDIA_VISIBLE_DEVICES", "TRITON_PTXAS_PATH", "VIRTUAL_ENV",
}
SECRET = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL", re.IGNORECASE)
SERVER_START_TIMEOUT_S = 120.0
SIGNAL_MEANINGS = {
    signal.SIGSEGV: "segmentation fault (out-of-bounds access?)",
    signal.SIGBUS: "bus error (misaligned or unmapped memory)",
    signal.SIGFPE: "arithmetic exception (integer division by zero?)",
    signal.SIGABRT: "aborted",
    signal.SIGXFSZ: "printed too much output (file size limit)",
    signal.SIGXCPU: "used too much CPU time",
    signal.SIGKILL: "killed (memory limit or timeout)",
    signal.SIGILL: "illegal instruction",
}


def scrubbed_env(cache_dir: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ENV_KEEP and not SECRET.search(k)}
    env["AKG_AGENTS_CACHE"] = cache_dir
    env.setdefault("TORCH_EXTENSIONS_DIR", os.path.join(cache_dir, "torch_extensions"))
    env["PYTHONUNBUFFERED"] = "1"
    # torch ships its own libgomp and C++ kernels link the system one: two OpenMP runtimes in one
    # process. With the default spin-wait, each one's idle threads burn the cores the other needs
    # (eager relu measured 4x slower interleaved with a kernel on 2 cores). Passive waiting keeps
    # both honest; it is read when each runtime loads, so it must be in the worker's environment.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.update(extra or {})
    return env


class Sandbox:
    """One warm worker process. Thread-safe: jobs on one sandbox run one at a time."""

    def __init__(self, cache_dir: str, env_extra: dict[str, str] | None = None) -> None:
        self.cache_dir = cache_dir
        self._env = scrubbed_env(cache_dir, env_extra)
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._counter = 0

    def _start(self) -> subprocess.Popen[str]:
        os.makedirs(self.cache_dir, exist_ok=True)
        server_log = open(os.path.join(self.cache_dir, "worker_server.log"), "a")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "akg_agents.verify.server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=server_log,
            text=True,
            env=self._env,
            start_new_session=True,
        )
        line = read_line(proc, SERVER_START_TIMEOUT_S)
        server_log.close()
        if not line or not json.loads(line).get("ready"):
            proc.kill()
            err = Path(self.cache_dir, "worker_server.log").read_text()[-2000:]
            raise WorkerError(
                "the verification worker did not start",
                hint=(err.strip().splitlines() or ["is torch importable by this Python?"])[-1],
            )
        return proc

    def run(self, job: CandidateJob | RaceJob, job_dir: str, timeout_s: float, memory_mb: int) -> WorkerReport:
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._proc = self._start()
            self._counter += 1
            kind = "race" if isinstance(job, RaceJob) else "candidate"
            request = {"id": self._counter, "kind": kind, "job": to_dict(job), "job_dir": job_dir,
                       "timeout_s": timeout_s, "memory_mb": memory_mb}
            assert self._proc.stdin is not None
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            line = read_line(self._proc, timeout_s + 30.0)
            if not line:  # the server itself died or wedged: replace it next time
                self.close()
                return WorkerReport(status=Status.RUNTIME_ERROR.value, message="the worker process died", log_tail=_tail(job_dir))
            reply = json.loads(line)
        return _report_from(reply, job_dir, timeout_s)

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            self._proc = None


def read_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
    return proc.stdout.readline() if ready else ""


def _tail(job_dir: str, limit: int = 3000) -> str:
    path = Path(job_dir) / "log.txt"
    if not path.exists():
        return ""
    with open(path, "rb") as handle:
        handle.seek(max(path.stat().st_size - limit, 0))
        return handle.read().decode(errors="replace")


def _report_from(reply: dict[str, object], job_dir: str, timeout_s: float) -> WorkerReport:
    report_path = Path(job_dir) / "report.json"
    escaped = reply.get("escaped")  # (after a timeout, only processes that left the job's group)
    if isinstance(escaped, int) and escaped > 0:
        return WorkerReport(status=Status.REJECTED.value, rule="host-processes",
                            message=f"the candidate left {escaped} process(es) running after its job (fork + setsid?): killed")
    if reply["timed_out"]:
        return WorkerReport(status=Status.TIMEOUT.value, message=f"no result within {timeout_s:.0f} s (hang or infinite loop?)", log_tail=_tail(job_dir))
    if report_path.exists():
        report = from_json(WorkerReport, report_path.read_text())
        if not report.log_tail and report.status != "ok":
            report = WorkerReport(**{**report.__dict__, "log_tail": _tail(job_dir)})
        return report
    sig = reply.get("signal")
    if isinstance(sig, int):
        meaning = SIGNAL_MEANINGS.get(signal.Signals(sig), signal.Signals(sig).name)
        message = f"the worker was killed by {signal.Signals(sig).name}: {meaning}"
    else:
        message = f"the worker exited with code {reply['returncode']} without a report"
    return WorkerReport(status=Status.RUNTIME_ERROR.value, message=message, log_tail=_tail(job_dir))


def new_job_dir(root: str, prefix: str) -> str:
    os.makedirs(root, exist_ok=True)
    return tempfile.mkdtemp(prefix=prefix, dir=root)
