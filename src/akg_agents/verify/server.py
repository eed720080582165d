"""The warm fork server: `python -m akg_agents.verify.server`.

It imports torch and the worker once (about a second), then forks a fresh child per job, so a
candidate pays a fork, not an interpreter start. It never runs a torch op itself: OpenMP and
CUDA are initialized only in children, which keeps fork safe.

Protocol: one JSON request per stdin line, one JSON reply per stdout line; children never write
to the server's stdout (their fds 1 and 2 go to a log file in the job's own directory).

Each child: its own process group (a kill takes its compilers and helpers too), its own temp dir,
limits on address space, file size (runaway output) and CPU time, and a wall-clock deadline
enforced here by SIGKILL to the whole group.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import time
from typing import Any

from akg_agents.dsl.registry import backend_for_device
from akg_agents.records import from_dict, to_json
from akg_agents.verify import worker
from akg_agents.verify.confine import become_subreaper, drop_privileges, kill_orphans
from akg_agents.verify.protocol import CandidateJob, RaceJob

MAX_LOG_BYTES = 512 * 1024 * 1024


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_child(request: dict[str, Any]) -> None:
    drop_privileges()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_LOG_BYTES, MAX_LOG_BYTES))
    cpu_s = int(request["timeout_s"] * max(os.cpu_count() or 1, 1) * 2) + 10
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s + 5))
    memory_mb = int(request.get("memory_mb", 0))
    # Device runtimes (CUDA, CANN) reserve huge virtual ranges: an address-space limit only makes
    # sense where the backend says so (the CPU).
    if memory_mb > 0 and backend_for_device(str(request["job"].get("device", "cpu"))).limit_address_space:
        limit = _vm_size_bytes() + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child(request: dict[str, Any]) -> None:
    """Runs in the forked child; never returns."""
    code = 0
    try:
        os.setsid()
        job_dir = request["job_dir"]
        log_fd = os.open(os.path.join(job_dir, "log.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)  # the job must not read the server's request pipe
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        sys.stdout = os.fdopen(1, "w", buffering=1)
        sys.stderr = os.fdopen(2, "w", buffering=1)
        os.chdir(job_dir)
        os.environ["TMPDIR"] = job_dir
        threads = int(request["job"].get("threads", 0))
        if threads > 0:
            os.environ["OMP_NUM_THREADS"] = str(threads)  # read by the kernels' own OpenMP runtime
        _limit_child(request)
        job: CandidateJob | RaceJob
        if request["kind"] == "race":
            job = from_dict(RaceJob, request["job"])
        else:
            job = from_dict(CandidateJob, request["job"])
        report = worker.run_job(job)
        tmp = os.path.join(job_dir, "report.json.tmp")
        with open(tmp, "w") as handle:
            handle.write(to_json(report))
        os.replace(tmp, os.path.join(job_dir, "report.json"))
    except BaseException:  # the parent reads the log; the exit code says "no report"
        code = 1
    finally:
        sys.stdout.flush() if sys.stdout else None
        os._exit(code)


class Orphaned(Exception):
    """The process that sent the job is gone: nobody will read the reply."""


def _wait(pid: int, timeout_s: float, parent: int) -> tuple[int | None, int | None, bool]:
    """Waits for the job `pid`; kills its group at the timeout, or at once (raising Orphaned) when
    the server's parent `parent` is gone: a CLI killed with SIGKILL must not leave a hung candidate
    spinning until its own timeout (the server is a subreaper in its own session, so nothing else
    would stop it)."""
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.WIFSIGNALED(status):
                return None, os.WTERMSIG(status), False
            return os.WEXITSTATUS(status), None, False
        if os.getppid() != parent:
            _kill_job(pid)
            os.waitpid(pid, 0)
            raise Orphaned
        if time.monotonic() > deadline:
            _kill_job(pid)
            os.waitpid(pid, 0)
            return None, signal.SIGKILL, True
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def _kill_job(pid: int) -> None:
    """A running (not yet reaped) job: its group (it calls setsid first thing) and the job itself,
    in case it is killed before its setsid ran: then there is no such group yet and waiting for it
    would hang. Only before the reap: afterwards its pid may already belong to another process."""
    _kill_group(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _outside_group(job: int) -> int:
    """Children of this server (a subreaper: processes the job set loose come back to it) that are
    not in the job's process group: they left it with setsid / setpgid."""
    me, count = os.getpid(), 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == me and int(fields[2]) != job:  # ppid, process group
                count += 1
    return count


def _preload() -> None:
    """Import heavy DSL runtimes (AKG_AGENTS_PRELOAD=triton,tilelang) once, before any fork.

    Each child then starts with them loaded instead of paying one to several seconds per job.
    Importing them initializes no CUDA context, so forking stays safe.
    """
    import importlib

    for name in filter(None, os.environ.get("AKG_AGENTS_PRELOAD", "").split(",")):
        try:
            importlib.import_module(name.strip())
        except ImportError as exc:  # the child will report the real problem if a job needs it
            print(f"preload of {name} failed: {exc!r}", file=sys.stderr, flush=True)


def serve() -> None:
    become_subreaper()  # processes a job sets loose (fork + setsid) come back to us
    parent = os.getppid()
    _preload()
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(request)
        try:
            returncode, sig, timed_out = _wait(pid, float(request["timeout_s"]), parent)
        except Orphaned:
            kill_orphans()
            os._exit(3)
        # Anything the job left running in its group (a stray g++, a daemonized helper) dies too.
        _kill_group(pid)
        # A job that ended on its own left its processes behind: all count. One killed (timeout,
        # signal) had its group killed with it: only those that left its group (setsid) count, so
        # that an escape stays the verdict even when the job then hung, and a g++ killed
        # mid-compile is not an escape.
        outside = _outside_group(pid)
        escaped = kill_orphans()
        if timed_out or sig is not None:
            escaped = outside
        reply = {
            "id": request["id"],
            "escaped": escaped,
            "returncode": returncode,
            "signal": sig,
            "timed_out": timed_out,
            "elapsed_s": time.monotonic() - start,
        }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the server ends
    serve()
