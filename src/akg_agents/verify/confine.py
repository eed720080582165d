"""OS-level confinement of a candidate's process, and of what it leaves behind.

- Capabilities: a worker that runs as root (containers, CI, GPU hosts) could read any process's
  memory (/proc/PID/mem needs CAP_SYS_PTRACE, which root has even against a non-dumpable
  referee). The child drops every capability, from its bounding set too (so nothing it execs
  regains them), and sets no_new_privs.
- Escaped processes: a job's code can fork and setsid() out of its process group. The fork
  server is a child subreaper, so such orphans become its children; after each job it kills
  and counts them, and a job that left one behind is rejected.
"""

from __future__ import annotations

import _thread
import contextlib
import ctypes
import os
import signal
from collections.abc import Callable
from typing import Any

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
CAP_LAST = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def drop_privileges() -> bool:
    """In the candidate's child: no capabilities, now or after exec. False where it failed."""
    libc = _libc()
    with contextlib.suppress(Exception):
        for cap in range(CAP_LAST + 1):
            libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)  # fails harmlessly past the kernel's last cap
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
        data = (_CapData * 2)()
        return bool(libc.capset(ctypes.byref(header), data) == 0)
    return False


def become_subreaper() -> None:
    with contextlib.suppress(Exception):
        _libc().prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def kill_orphans() -> int:
    """Kill and reap every remaining child of this process; returns how many there were."""
    me = str(os.getpid())
    victims = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            if fields[1] == me:  # ppid
                victims.append(int(entry))
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for pid in victims:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    return len(victims)


def native_threads() -> int:
    """Threads of this process, native ones included (Python's own count misses C++ threads)."""
    return len(os.listdir("/proc/self/task"))


class _ThreadStarts:
    """Counts threads started from Python (`threading` and `_thread` alike) while the candidate
    runs. Installed before its code loads, so even a name it imported is the counting one."""

    def __init__(self) -> None:
        import threading

        self.count = 0
        for owner, name in ((_thread, "start_new_thread"), (_thread, "start_joinable_thread"),
                            (threading, "_start_new_thread"), (threading, "_start_joinable_thread")):
            original = getattr(owner, name, None)
            if original is not None:
                setattr(owner, name, self._counting(original))

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def start(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return original(*args, **kwargs)

        return start


_STARTS: _ThreadStarts | None = None


def watch_thread_starts() -> None:
    global _STARTS
    _STARTS = _ThreadStarts()


def reset_thread_starts() -> None:
    if _STARTS is not None:
        _STARTS.count = 0


def thread_problem(before: int, during_calls: bool = True) -> str:
    """Why the Python threads of this process break the rules ('' when they do not): any start
    during a call, or more threads alive than `before` (a count of `_thread._count()`)."""
    if during_calls and _STARTS is not None and _STARTS.count:
        return f"the candidate started {_STARTS.count} host thread(s) from Python: work outside the timed call"
    if _thread._count() > before:
        return f"the candidate started {_thread._count() - before} host thread(s) that are still running: work outside the call"
    return ""
