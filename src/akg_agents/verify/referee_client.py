"""Both ends that talk to the referee: the parent's process handle, and the worker's channel."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from akg_agents.errors import WorkerError
from akg_agents.verify.protocol import RefereeLink
from akg_agents.verify.sandbox import read_line

START_TIMEOUT_S = 120.0


class RefereeProcess:
    """Parent side: one referee per device, started on first use, restarted if it dies."""

    def __init__(self, log_dir: str, env: dict[str, str]) -> None:
        self.log_dir = log_dir
        self._env = env
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._root = ""

    def _start(self) -> subprocess.Popen[str]:
        os.makedirs(self.log_dir, exist_ok=True)
        log_path = os.path.join(self.log_dir, "referee.log")
        with open(log_path, "a") as log:
            proc = subprocess.Popen([sys.executable, "-m", "akg_agents.verify.referee"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, text=True, env=self._env, start_new_session=True)
        line = read_line(proc, START_TIMEOUT_S)
        ready = json.loads(line) if line else {}
        self._root = str(ready.get("root", ""))
        if not ready.get("ready"):
            proc.kill()
            tail = Path(log_path).read_text()[-2000:].strip().splitlines()
            raise WorkerError("the referee process did not start", hint=(tail or ["is torch importable by this Python?"])[-1])
        return proc

    @property
    def started(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def request(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        with self._lock:
            if not self.started:
                self._proc = self._start()
            proc = self._proc
            assert proc is not None and proc.stdin is not None
            proc.stdin.write(json.dumps(payload) + "\n")
            proc.stdin.flush()
            line = read_line(proc, timeout_s)
            if not line:
                self._kill()
                what = "died" if proc.poll() is not None else f"gave no answer within {timeout_s:.0f} s"
                tail = Path(self.log_dir, "referee.log").read_text()[-1500:] if Path(self.log_dir, "referee.log").exists() else ""
                return {"ok": False, "lost": True, "message": f"the referee {what} during '{payload.get('cmd')}'", "log": tail}
            reply: dict[str, Any] = json.loads(line)
            return reply

    def _kill(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
            self._proc = None
        if self._root and os.path.basename(self._root).startswith("akg_referee_"):
            shutil.rmtree(self._root, ignore_errors=True)  # its shared-memory slot files
        self._root = ""

    def close(self) -> None:
        with self._lock:
            self._kill()


class CandidateChannel:
    """Worker side: submits outputs to the referee. Connected before any candidate code loads."""

    def __init__(self, link: RefereeLink, device: str) -> None:
        self.link, self.device = link, device
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(link.socket)
        self._stream = self._sock.makefile("rw")
        self.timed_submitted = 0
        self._mapped: list[Any] | None = None
        self._last_scalars: list[Any] | None = None
        if not self._ask({"token": link.token}).get("ok"):
            raise RuntimeError("the referee does not know this job's session")

    def _ask(self, message: dict[str, Any]) -> dict[str, Any]:
        self._stream.write(json.dumps(message) + "\n")
        self._stream.flush()
        line = self._stream.readline()
        if not line:
            raise RuntimeError("the referee closed the connection")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def _describe(self, outputs: list[Any]) -> list[dict[str, Any]]:
        from akg_agents.dsl.registry import backend_for_device
        from akg_agents.verify.transport import describe_cuda, write_slot

        if backend_for_device(self.device).output_transport == "ipc":  # CUDA IPC handles: no copy
            return [describe_cuda(t) if t.is_cuda else {"kind": "host", "shape": list(t.shape)} for t in outputs]
        described = []
        for index, tensor in enumerate(outputs):
            if index < len(self.link.slots):
                described.append(write_slot(self.link.slots[index], tensor))
            else:
                described.append({"kind": "slot", "shape": list(tensor.shape), "dtype": str(tensor.dtype).removeprefix("torch.")})
        return described

    def submit_case(self, case: str, outputs: list[Any]) -> bool:
        return bool(self._ask({"op": "case", "case": case, "outputs": self._describe(outputs)}).get("ok"))

    def next_inputs(self) -> dict[str, Any]:
        """The next timed call's fresh inputs: {"seed"} to draw them, plus {"scalars"} when the
        referee has copied them into the input slots; {"done"} when no fresh set is left."""
        reply = self._ask({"op": "inputs"})
        if not reply.get("ok"):
            raise RuntimeError("the referee refused fresh inputs")
        return reply

    def case_inputs(self, case: str) -> list[Any] | None:
        """A verification case's inputs from the input slots, or None: draw them by seed."""
        reply = self._ask({"op": "case_inputs", "case": case})
        return self.slot_inputs(reply["scalars"]) if "scalars" in reply else None

    def slot_inputs(self, scalars: list[Any]) -> list[Any]:
        """The input slots as tensors (mapped once; the referee rewrites them every round)."""
        from akg_agents.verify.transport import dtype_named, mapped_slot

        if self._mapped is None:
            self._mapped = []
            for slot in self.link.input_slots:
                if slot is None:
                    self._mapped.append(None)
                    continue
                numel = 1
                for size in slot["shape"]:
                    numel *= size
                dtype = dtype_named(slot["dtype"])
                self._mapped.append(mapped_slot(slot["path"], dtype)[:numel].view(slot["shape"]))
        self._last_scalars = scalars
        return [scalar if tensor is None else tensor for tensor, scalar in zip(self._mapped, scalars, strict=True)]

    def last_slot_inputs(self) -> list[Any] | None:
        """The input slots with what the referee last put there, or None when not in slot mode."""
        if self._mapped is None or self._last_scalars is None:
            return None
        return self.slot_inputs(self._last_scalars)

    def submit_timed(self, seed: int, outputs: list[Any]) -> bool:
        self.timed_submitted += 1
        return bool(self._ask({"op": "timed", "seed": seed, "outputs": self._describe(outputs)}).get("ok"))
