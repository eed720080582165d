"""The referee: `python -m akg_agents.verify.referee`, one trusted process per device.

It computes a task's reference outputs before any candidate code is loaded and keeps them in its
own memory (on the device), never on disk: a candidate's process, which the sandbox forks from a
different server, has no copy to find in its memory, `gc`, files or environment. The referee is
not dumpable (no /proc/PID/mem, no ptrace by same-user processes).

Two channels:
- the parent (stdin/stdout, JSON lines): `prepare` a task, `open` a session for one candidate job,
  `close` it and get the verdict;
- the candidate's worker (a Unix socket whose path only the session's job knows): `submit` the
  outputs of a verification case, ask for the `seed` of the next timed call (drawn only then, so
  a kernel cannot precompute), and `submit` that call's output. The referee decides after each
  timed call, at random, whether to check it; the worker never learns a timed verdict except
  "stop".

An output that misses a float16/bfloat16/float32 reference gets a second look: the referee
recomputes that reference in float64 (once per case or input set, kept) and accepts an output
within the tolerance plus PyTorch's own error (compare.py); the verdict says when it did.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
import traceback
from typing import Any

import torch

from akg_agents.dsl.registry import backend_for_device
from akg_agents.records import to_dict
from akg_agents.verify.compare import (
    DTYPE_WORDS,
    Tolerance,
    compare_tensor,
    same_bits,
    tolerance_for,
)
from akg_agents.verify.referee_task import (
    PreparedTask,
    ReferenceFailed,
    baselines,
    estimate,
    float64_look,
    prepare,
    quick_eager_ms,
    release_cached_memory,
)
from akg_agents.verify.transport import TransportError, open_cuda, open_slot

PR_SET_DUMPABLE = 4
MAX_MESSAGE_BYTES = 1 << 20


def _not_dumpable() -> None:
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


class Session:
    """One candidate job: its tolerances, slots, what it submitted and the first failure."""

    def __init__(self, request: dict[str, Any], task: PreparedTask, root: str) -> None:
        self.token = str(request["token"])
        self.atol: float | None = request.get("atol")
        self.rtol: float | None = request.get("rtol")
        self.allow_tf32 = bool(request.get("allow_tf32", False))
        self.task = task
        self.failure: dict[str, Any] | None = None
        self.cases_ok: list[str] = []
        self.timed_total = 0
        self.timed_checked = 0
        self.handed = 0  # fresh input sets handed out for timed calls
        self.pending_seeds: set[int] = set()
        self.pending_entries: dict[int, int] = {}  # seed -> pool index
        self.slots_to_remove: list[str] = []
        self.last_expected: tuple[int, list[torch.Tensor]] | None = None
        self.slots: list[str] = []
        self.input_slots: list[dict[str, Any] | None] = []
        self.input_views: list[torch.Tensor | None] = []
        self.order: list[int] = []  # pool entries not yet handed out, in random order
        # Accepted only against the float64 reference (PyTorch's own output being further off):
        self.float64_cases: list[str] = []
        self.float64_timed = 0
        self.float64_dtypes: set[str] = set()
        if backend_for_device(task.device).output_transport == "host_slots":
            self.slots = _make_slots(root, task.slot_bytes())
        if task.pool:
            self._open_input_slots(root)

    def _open_input_slots(self, root: str) -> None:
        _, first, _ = self.task.pool[0]
        for value in first:
            if not isinstance(value, torch.Tensor):
                self.input_slots.append(None)
                self.input_views.append(None)
                continue
            path = _make_slots(root, [value.numel() * value.element_size()])[0]
            self.slots_to_remove.append(path)
            self.input_slots.append({"path": path, "shape": list(value.shape), "dtype": str(value.dtype).removeprefix("torch.")})
            mapped = torch.from_file(path, shared=True, size=max(value.numel(), 1), dtype=value.dtype)
            self.input_views.append(mapped[: value.numel()].view(value.shape))
        order = list(range(len(self.task.pool)))
        for i in range(len(order) - 1, 0, -1):  # Fisher-Yates with the OS's randomness
            j = secrets.randbelow(i + 1)
            order[i], order[j] = order[j], order[i]
        self.order = order

    def hand_out(self) -> dict[str, Any]:
        """The next fresh input set: copied into the input slots (CPU pool) or named by a seed."""
        if not self.task.pool:
            seed = secrets.randbits(62)
            self.pending_seeds.add(seed)
            self.handed += 1
            return {"ok": True, "seed": seed}
        if not self.order:
            return {"ok": True, "done": True}
        index = self.order.pop()
        self.handed += 1
        seed, inputs, _ = self.task.pool[index]
        for view, value in zip(self.input_views, inputs, strict=True):
            if view is not None:
                view.copy_(value)
        self.pending_entries[seed] = index
        return {"ok": True, "seed": seed, "scalars": [None if isinstance(v, torch.Tensor) else v for v in inputs]}

    def hand_case(self, case: str) -> dict[str, Any]:
        """A verification case's inputs through the input slots (CPU), when they fit them."""
        inputs = self.task.case_inputs.get(case)
        if not self.input_views or inputs is None or any(
            view is not None and (not isinstance(v, torch.Tensor) or v.shape != view.shape or v.dtype != view.dtype)
            for view, v in zip(self.input_views, inputs, strict=True)
        ):
            return {"ok": True}
        for view, value in zip(self.input_views, inputs, strict=True):
            if view is not None:
                view.copy_(value)
        return {"ok": True, "scalars": [None if isinstance(v, torch.Tensor) else v for v in inputs]}

    def expected_for(self, seed: int) -> list[torch.Tensor]:
        if seed in self.pending_entries:
            return self.task.pool[self.pending_entries[seed]][2]
        if seed not in self.pending_seeds:
            raise TransportError("a timed output for inputs the referee never handed out")
        if self.last_expected is None or self.last_expected[0] != seed:
            self.last_expected = None  # free the previous round's outputs first
            self.last_expected = (seed, self.task.outputs_for_seed(seed))
        return self.last_expected[1]  # a race submits several finalists' outputs per seed

    def changed_input(self, seed: int) -> int | None:
        """A pool input the timed call changed in place (the reference changes none of them)."""
        if seed not in self.pending_entries:
            return None
        _, inputs, _ = self.task.pool[self.pending_entries[seed]]
        mutated = set(self.task.info.get("mutated_inputs", []))
        for index, (view, value) in enumerate(zip(self.input_views, inputs, strict=True)):
            if view is not None and index not in mutated and not same_bits(view, value):
                return index
        return None

    def tolerance(self, dtype: torch.dtype) -> Tolerance:
        return tolerance_for(dtype, self.atol, self.rtol, self.allow_tf32)

    def verdict(self) -> dict[str, Any]:
        return {"failure": self.failure, "cases_ok": self.cases_ok, "timed_total": self.timed_total,
                "timed_checked": self.timed_checked, "handed": self.handed,
                "float64": {"cases": self.float64_cases, "timed": self.float64_timed, "dtypes": sorted(self.float64_dtypes)}}

    def close(self) -> None:
        from akg_agents.verify.transport import forget_slots

        forget_slots()
        self.input_views = []
        for path in [*self.slots, *self.slots_to_remove]:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _make_slots(root: str, sizes: list[int]) -> list[str]:
    paths = []
    for index, size in enumerate(sizes):
        fd, path = tempfile.mkstemp(prefix=f"out{index}_", dir=root)
        os.ftruncate(fd, max(size, 1))
        os.close(fd)
        paths.append(path)
    return paths


class Referee:
    def __init__(self) -> None:
        self.root = tempfile.mkdtemp(prefix="akg_referee_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
        os.chmod(self.root, 0o700)
        self.socket_path = os.path.join(self.root, "referee.sock")
        self.task: PreparedTask | None = None
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    # -- parent commands ------------------------------------------------------------------------

    def handle_parent(self, request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "prepare":
            with self.lock:
                self._forget_task()  # free the last task's references before making room for these
                try:
                    self.task = prepare(request)
                except ReferenceFailed as failed:
                    return {"ok": False, "status": failed.status, "message": failed.message, "log": failed.log}
                finally:
                    release_cached_memory()
            return {"ok": True, "info": self.task.info}
        if cmd in ("estimate", "eager_ms"):
            self._forget_task()  # the last task's references must not crowd out this one
            try:
                if cmd == "eager_ms":
                    return {"ok": True, "eager_ms": quick_eager_ms(request)}
                return {"ok": True, **estimate(request)}
            except ReferenceFailed as failed:
                return {"ok": False, "status": failed.status, "message": failed.message}
            except Exception as exc:  # the user's task raised: say so in one line
                return {"ok": False, "status": "runtime_error", "message": f"the task raised {exc!r}"}
        if cmd == "baselines":
            if self.task is None or self.task.digest != request.get("digest"):
                return {"ok": False, "message": "the referee has not prepared this task"}
            with self.lock, torch.no_grad():
                try:
                    return {"ok": True, "info": baselines(request, self.task)}
                finally:
                    release_cached_memory()
        if cmd == "open":
            if self.task is None or self.task.digest != request.get("task_digest"):
                return {"ok": False, "message": "the referee has not prepared this task"}
            session = Session(request, self.task, self.root)
            self.sessions[session.token] = session
            return {"ok": True, "socket": self.socket_path, "slots": session.slots, "input_slots": session.input_slots}
        if cmd == "close":
            closing = self.sessions.pop(str(request.get("token")), None)
            if closing is None:
                return {"ok": False, "message": "no such session"}
            closing.close()
            return {"ok": True, "verdict": closing.verdict()}
        return {"ok": False, "message": f"unknown command {cmd!r}"}

    def _forget_task(self) -> None:
        self.task = None
        release_cached_memory()

    # -- candidate connections ------------------------------------------------------------------

    def serve_candidates(self) -> None:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(self.socket_path)
        server.listen(4)
        while True:
            conn, _ = server.accept()
            threading.Thread(target=self._connection, args=(conn,), daemon=True).start()

    def _connection(self, conn: socket.socket) -> None:
        session: Session | None = None
        with conn, conn.makefile("rwb") as stream:
            while True:
                line = stream.readline(MAX_MESSAGE_BYTES)
                if not line:
                    return
                try:
                    if not line.endswith(b"\n"):
                        raise TransportError(f"a message longer than {MAX_MESSAGE_BYTES} bytes")
                    message = json.loads(line)
                    if not isinstance(message, dict):
                        raise TransportError("a message that is not an object")
                    if session is None:
                        session = self.sessions.get(str(message.get("token")))
                        reply: dict[str, Any] = {"ok": session is not None}
                    else:
                        with self.lock:
                            reply = self._candidate_message(session, message)
                except Exception as exc:  # anything the candidate's process sends is untrusted
                    reply = {"ok": False, "stop": True, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
                    if session is not None and session.failure is None:
                        session.failure = {"kind": "protocol", "message": f"bad message from the candidate's process: {str(exc)[:200]}"}
                stream.write((json.dumps(reply) + "\n").encode())
                stream.flush()
                if reply.get("stop") and session is None:
                    return

    def _candidate_message(self, session: Session, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        if session.failure is not None:
            return {"ok": False, "stop": True}
        if op == "inputs":
            return session.hand_out()
        if op == "case_inputs":
            return session.hand_case(str(message.get("case")))
        outputs = message.get("outputs")
        if not isinstance(outputs, list):
            raise TransportError("submit without outputs")
        if op == "case":
            return self._check_case(session, str(message.get("case")), outputs)
        if op == "timed":
            return self._check_timed(session, int(message["seed"]), outputs)
        raise TransportError(f"unknown op {op!r}")

    def _check_case(self, session: Session, case: str, outputs: list[Any]) -> dict[str, Any]:
        task = session.task
        if case not in task.references or case in session.cases_ok:
            raise TransportError(f"unexpected case {case!r}")
        mismatch, float64 = self._compare(session, task.references[case], outputs, task.seed_of(case), f"case:{case}")
        if mismatch is not None:
            session.failure = {"kind": "case", "case": case, "mismatch": mismatch}
            return {"ok": False, "stop": True}
        session.cases_ok.append(case)
        if float64:
            session.float64_cases.append(case)
        return {"ok": True}

    def _check_timed(self, session: Session, seed: int, outputs: list[Any]) -> dict[str, Any]:
        expected = session.expected_for(seed)
        session.timed_total += 1
        changed = session.changed_input(seed)
        if changed is not None:
            session.failure = {"kind": "timed_input", "seed": seed, "input": changed}
            return {"ok": False, "stop": True}
        session.timed_checked += 1
        entry = session.pending_entries.get(seed)
        mismatch, float64 = self._compare(session, expected, outputs, seed, f"fresh:{seed}" if entry is None else f"pool:{entry}")
        if mismatch is not None:
            session.failure = {"kind": "timed", "seed": seed, "mismatch": mismatch}
            return {"ok": False, "stop": True}
        session.float64_timed += float64
        return {"ok": True}

    def _compare(self, session: Session, expected: list[torch.Tensor], outputs: list[Any], seed: int,
                 key: str) -> tuple[dict[str, Any] | None, bool]:
        """The first mismatch (None if none), and whether an output passed only against the float64
        reference. `key` names the inputs `expected` was computed from (PreparedTask.reference_errors)."""
        if len(outputs) != len(expected):
            return {"seed": seed, "output_index": 0, "element": [], "expected": 0.0, "actual": 0.0,
                    "abs_err": float("inf"), "bad_count": 0, "total": 0,
                    "detail": f"expected {len(expected)} outputs, got {len(outputs)}"}, False
        float64 = False
        for index, (ref, desc) in enumerate(zip(expected, outputs, strict=True)):
            if not isinstance(desc, dict):
                raise TransportError("malformed descriptor")
            actual = self._open(session, index, desc)
            if actual is None:
                shape = tuple(desc.get("shape", ()))
                return {"seed": seed, "output_index": index, "element": [], "expected": 0.0, "actual": 0.0,
                        "abs_err": float("inf"), "bad_count": 0, "total": 0,
                        "detail": f"shape {shape} {desc.get('dtype')} != expected {tuple(ref.shape)} {ref.dtype}"}, False
            tol, scale = session.tolerance(ref.dtype), session.task.scale_of(ref)
            problem = compare_tensor(ref, actual, seed, index, tol, scale)
            if problem is not None:
                problem = float64_look(session.task, key, expected, index, actual, tol, scale, problem)
                if problem is None:
                    float64 = True
                    session.float64_dtypes.add(DTYPE_WORDS[ref.dtype])
            del actual
            session.task.sync()
            if problem is not None:
                return to_dict(problem), False
        return None, float64

    def _open(self, session: Session, index: int, desc: dict[str, Any]) -> torch.Tensor | None:
        if desc.get("kind") == "cuda" and backend_for_device(session.task.device).output_transport == "ipc":
            return open_cuda(desc)
        if desc.get("kind") == "slot" and index < len(session.slots):
            opened = open_slot(session.slots[index], desc)
            # A device without IPC handles (an NPU) sends its outputs through host slots: they are
            # compared where the references are (on the CPU, .to() returns the mapped tensor itself).
            return opened if opened is None else opened.to(session.task.device)
        raise TransportError("descriptor of the wrong kind for this device")


def _protocol_stream() -> Any:
    """The parent's pipe, on a private descriptor; fd 1 then goes to the log, so a print() in the
    user's task cannot corrupt the replies."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1)
    return protocol


def _exit_with_parent(parent: int, root: str, poll_s: float = 1.0) -> None:
    """Ends the referee when its parent is gone, even in the middle of a request (a full-size
    reference can take minutes): it runs in its own session, so a CLI killed with SIGKILL would
    otherwise leave it computing until the request ends. Its shared-memory slots go with it."""
    import shutil

    while os.getppid() == parent:
        time.sleep(poll_s)
    shutil.rmtree(root, ignore_errors=True)
    os._exit(3)


def serve() -> None:
    _not_dumpable()
    protocol = _protocol_stream()
    referee = Referee()
    threading.Thread(target=referee.serve_candidates, daemon=True).start()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(), referee.root), name="akg-exit-with-parent",
                     daemon=True).start()
    protocol.write(json.dumps({"ready": True, "pid": os.getpid(), "root": referee.root}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = referee.handle_parent(json.loads(line))
        except Exception as exc:  # a broken referee must say why, not hang the parent
            reply = {"ok": False, "message": f"referee error: {exc!r}", "log": traceback.format_exc()[-3000:]}
        protocol.write(json.dumps(reply) + "\n")
    # The parent is gone (its pipe closed, e.g. it was killed): nothing will remove our slots.
    import shutil

    shutil.rmtree(referee.root, ignore_errors=True)


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the referee ends
    serve()
