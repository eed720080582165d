"""The built-in generator's search space for evolve / adaptive_search, made lazily.

The space is a list of parameter settings in the generator's order (its default first); a point's
code is generated only when the search picks it, and kept. For loop nests (cpp, PolyTOPS) each
point is a schedule, seconds apiece: the whole grid (480 points) up front took minutes before the
first evaluation. Spaces that cost nothing per point (row programs, Triton templates, pools) are
generated whole, as before.

    space = open_space(task, "cpp", limit=512, threads=0, precision="fp32")
    space.points[i]             # parameter dict, cheap
    space.candidate(i)          # Candidate (its code made now if not yet), or None: declined there
    space.close()

Tracing runs the task's code, so it happens in a child process (scrubbed environment, as in
tasks/isolated.py): one long-lived child per space, which keeps its imports warm between points.
`python -m akg_agents.workflows.lazy_space` is that child: JSON requests on stdin, one JSON reply
line each on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from typing import Any

from akg_agents.errors import TaskError
from akg_agents.records import Candidate, Task, from_dict, to_dict

TIMEOUT_S = 600.0
REPLY = "@@lazy_space "  # reply lines start with this (the task's code may print anything)

# Opt-in memo of made points, for a process that runs several searches on the same task (a
# benchmark comparing workflows): key (task digest, dsl, threads, precision, params as JSON).
CODE_CACHE: dict[tuple[str, str, int, str, str], Candidate | None] | None = None
CODE_CACHE_LIMIT = 4096


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


class Space:
    """Points (parameter dicts, generator order) and their candidates, made on demand."""

    def __init__(self, points: list[dict[str, Any]], made: dict[int, Candidate | None], note: str,
                 child: _Child | None = None, key: tuple[str, str, int, str] | None = None) -> None:
        self.points = points
        self.made = made  # index -> candidate (None: the generator declined that point)
        self.note = note
        self.child = child
        self.key = key
        self.generated = 0  # points whose code this space asked the generator for (the memo's not counted)
        self.declined: dict[int, str] = {}

    @classmethod
    def of(cls, candidates: list[Candidate]) -> Space:
        """A space generated whole (every point's code known)."""
        return cls([dict(c.params) for c in candidates], dict(enumerate(candidates)),
                   candidates[0].note if candidates else "")

    def __len__(self) -> int:
        return len(self.points)

    def known(self, index: int) -> bool:
        return index in self.made

    def candidate(self, index: int) -> Candidate | None:
        if index in self.made:
            return self.made[index]
        memo_key = (*self.key, params_key(self.points[index])) if self.key else None
        if CODE_CACHE is not None and memo_key in CODE_CACHE:
            made = CODE_CACHE[memo_key]
        else:
            if self.child is None:
                raise TaskError("this search space has no generator to make its points")
            answer = self.child.make(self.points[index])
            self.generated += 1
            if isinstance(answer, str):
                self.declined[index] = answer
            made = answer if isinstance(answer, Candidate) else None
            if CODE_CACHE is not None and memo_key is not None:
                if len(CODE_CACHE) >= CODE_CACHE_LIMIT:
                    CODE_CACHE.pop(next(iter(CODE_CACHE)))
                CODE_CACHE[memo_key] = made
        self.made[index] = made
        return made

    def close(self) -> None:
        if self.child is not None:
            self.child.close()
            self.child = None


def open_space(task: Task, dsl: str, limit: int, threads: int, precision: str = "fp32") -> Space:
    """The space of `task` for `dsl`: the first point made, the others made when asked for
    (loop nests) or all made now (every other generator). NotCovered when the task is declined."""
    from akg_agents.builtin.lower import NotCovered

    child = _Child(task)
    try:
        reply = child.request({"job": "open", "task": to_dict(task), "dsl": dsl, "limit": limit, "threads": threads,
                               "precision": precision})
    except BaseException:
        child.close()
        raise
    if "declined" in reply:
        child.close()
        raise NotCovered(reply["declined"])
    first = [from_dict(Candidate, c) for c in reply["candidates"]]
    if not reply["points"]:  # generated whole: no child needed any more
        child.close()
        return Space.of(first)
    points = [dict(p) for p in reply["points"]]
    return Space(points, dict(enumerate(first)), first[0].note, child, (task.digest, dsl, threads, precision))


class _Child:
    """One long-lived tracing child (scrubbed environment, its own session, ends with its parent)."""

    def __init__(self, task: Task) -> None:
        from akg_agents.verify.sandbox import scrubbed_env

        self.task = task
        cache = os.environ.get("AKG_AGENTS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "akg_agents"))
        self.proc = subprocess.Popen([sys.executable, "-m", "akg_agents.workflows.lazy_space"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=scrubbed_env(cache),
                                     start_new_session=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.lock = threading.Lock()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr = [*self.stderr[-20:], line.rstrip()]

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            try:
                self.proc.stdin.write(json.dumps(message) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                return self._failed()
            expired = threading.Event()

            def expire() -> None:
                expired.set()
                self.proc.kill()

            timer = threading.Timer(TIMEOUT_S, expire)
            timer.start()
            try:
                for line in self.proc.stdout:
                    if line.startswith(REPLY):
                        reply: dict[str, Any] = json.loads(line[len(REPLY):])
                        if "error" in reply:
                            raise TaskError(f"task '{self.task.name}': generating its search space failed: "
                                            f"{reply['error'][:200]}")
                        return reply
            finally:
                timer.cancel()
            if expired.is_set():
                raise TaskError(f"task '{self.task.name}': no answer within {TIMEOUT_S:.0f} s while generating a candidate")
            return self._failed()

    def _failed(self) -> dict[str, Any]:
        code = self.proc.wait()
        tail = (self.stderr or ["no output"])[-1]
        if code < 0:
            tail = f"killed by signal {-code} ({tail})"
        raise TaskError(f"task '{self.task.name}': tracing its Model failed: {tail[:200]}")

    def make(self, params: dict[str, Any]) -> Candidate | str:
        """The candidate at `params`, or the generator's reason for declining that point."""
        reply = self.request({"job": "make", "params": params})
        if "declined" in reply:
            return str(reply["declined"])
        return from_dict(Candidate, reply["candidate"])

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.close()
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


# ---- the child ---------------------------------------------------------------------------------

def _generate(task: Task, dsl: str, count: int, threads: int, precision: str) -> list[Candidate]:
    """As tasks/isolated.py's generate job: on meta tensors first, real data when that does not work out."""
    from akg_agents.builtin.generator import generate
    from akg_agents.tasks.isolated import _shapes_only

    def candidates() -> list[Candidate]:
        return generate(task, dsl, count, threads, precision)

    made = _shapes_only(candidates)
    return made if made is not None else candidates()


def _loop_nest_points(threads: int, limit: int) -> list[dict[str, Any]]:
    """The PolyTOPS space as parameter dicts, stamped as poly_candidates stamps its candidates."""
    from akg_agents.builtin.poly_cpp import poly_variants

    return [{"generator": "poly", **asdict(p)} for p in poly_variants(threads)][:limit]


def _answer(state: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    from akg_agents.builtin.lower import NotCovered

    if request["job"] == "open":
        task = from_dict(Task, request["task"])
        state.update(task=task, dsl=request["dsl"], threads=request["threads"], precision=request["precision"])
        try:
            first = _generate(task, request["dsl"], 1, request["threads"], request["precision"])
        except NotCovered as why:
            return {"declined": str(why)}
        if first and first[0].params.get("generator") == "poly":
            points = _loop_nest_points(request["threads"], request["limit"])
            if points and points[0] == first[0].params:
                return {"candidates": [to_dict(first[0])], "points": points}
        everything = _generate(task, request["dsl"], request["limit"], request["threads"], request["precision"])
        return {"candidates": [to_dict(c) for c in everything], "points": []}
    from akg_agents.builtin.poly_cpp import ONLY, PolyParams

    params = dict(request["params"])
    chosen = PolyParams(**{k: v for k, v in params.items() if k != "generator"})
    token = ONLY.set((chosen,))
    try:
        made = _generate(state["task"], state["dsl"], 1, state["threads"], state["precision"])
    except NotCovered as why:
        return {"declined": str(why)}
    finally:
        ONLY.reset(token)
    if not made or made[0].params != params:
        return {"error": f"the generator made {made[0].params if made else 'nothing'} when asked for {params}"}
    return {"candidate": to_dict(made[0])}


def _child() -> None:
    from akg_agents.tasks.isolated import _exit_with_parent

    _exit_with_parent()
    state: dict[str, Any] = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = _answer(state, json.loads(line))
        except Exception as error:
            reply = {"error": f"{type(error).__name__}: {error}"}
        sys.stdout.flush()
        os.write(1, ("\n" + REPLY + json.dumps(reply) + "\n").encode())  # after anything the task printed


if __name__ == "__main__":
    _child()


__all__ = ["CODE_CACHE", "Space", "open_space", "params_key"]
