"""A CLI killed with SIGKILL leaves no referee or sandbox work behind: the sandbox server kills a
running job and exits when its parent is gone, the referee ends too (both run in their own
sessions, so no terminal signal reaches them)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from akg_agents.verify import server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_wait_kills_the_job_when_the_parent_is_gone() -> None:
    job = os.fork()
    if job == 0:  # a hung candidate
        os.setsid()
        while True:
            time.sleep(0.05)
    with pytest.raises(server.Orphaned):
        server._wait(job, timeout_s=60.0, parent=os.getppid() + 1_000_000)  # not our parent: "gone"
    assert not _alive(job)


def test_wait_still_times_out_with_the_parent_alive() -> None:
    job = os.fork()
    if job == 0:
        os.setsid()
        while True:
            time.sleep(0.05)
    assert server._wait(job, timeout_s=0.3, parent=os.getppid()) == (None, signal.SIGKILL, True)


INTERMEDIATE = r"""
import json, subprocess, sys
procs = {}
for name in ("server", "referee"):
    proc = subprocess.Popen([sys.executable, "-m", f"akg_agents.verify.{name}"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    assert json.loads(proc.stdout.readline())["ready"]
    procs[name] = proc.pid
print(json.dumps(procs), flush=True)
sys.stdin.read()  # holds the pipes open until killed
"""


def test_referee_watchdog_ends_the_process_and_removes_its_slots(tmp_path: Path) -> None:
    """The referee's watchdog thread, in a forked child whose 'parent' is not its own: it must
    remove the referee's slot folder and exit (code 3), whatever the main thread is doing."""
    from akg_agents.verify import referee

    root = tmp_path / "akg_referee_x"
    root.mkdir()
    child = os.fork()
    if child == 0:
        referee._exit_with_parent(os.getppid() + 1_000_000, str(root), poll_s=0.01)
        os._exit(0)  # not reached when the watchdog works
    _, status = os.waitpid(child, 0)
    assert os.WEXITSTATUS(status) == 3 and not root.exists()


def test_server_and_referee_end_when_their_parent_is_killed(tmp_path: Path) -> None:
    """The whole path with idle processes (they also end on their stdin's end; the busy cases are
    the two tests above)."""
    parent = subprocess.Popen([sys.executable, "-c", INTERMEDIATE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=tmp_path)
    assert parent.stdout is not None
    pids = json.loads(parent.stdout.readline())
    assert all(_alive(pid) for pid in pids.values())
    parent.kill()  # SIGKILL: the children's pipes stay open in no one else, nothing is cleaned up
    parent.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.2)
    left = [name for name, pid in pids.items() if _alive(pid)]
    for pid in pids.values():
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not left, f"still running after their parent was killed: {left}"
