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
REPLY = "@@lazy_space "
FRONT = 6  # candidates the generator may put before its first loop nest (a product's GEMMs) for a lazy space  # reply lines start with this (the task's code may print anything)

# Opt-in memos, for a process that runs several searches on the same task (a benchmark comparing
# workflows): None (the default) generates every time; memo_on() turns both on. OPENED: a space's
# points and the candidates made with it, by (task digest, dsl, limit, threads, precision); MADE: a
# point's candidate (None: declined), by (task digest, dsl, threads, precision, params as JSON).
OPENED: dict[tuple[str, str, int, int, str], tuple[list[dict[str, Any]], list[Candidate]]] | None = None
MADE: dict[tuple[str, str, int, str, str], Candidate | str] | None = None
MEMO_LIMIT = 4096


def memo_on() -> None:
    global OPENED, MADE
    OPENED, MADE = {}, {}


def params_key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=str)


def _remember(memo: dict[Any, Any] | None, key: Any, value: Any) -> None:
    if memo is not None:
        if len(memo) >= MEMO_LIMIT:
            memo.pop(next(iter(memo)))
        memo[key] = value


class Space:
    """Points (parameter dicts, generator order) and their candidates, made on demand by a tracing
    child (started when first needed, bound to the task by `binding`)."""

    def __init__(self, points: list[dict[str, Any]], made: dict[int, Candidate | None], note: str,
                 binding: dict[str, Any] | None = None, child: Any = None) -> None:
        self.points = points
        self.made = made  # index -> candidate (None: the generator declined that point)
        self.note = note
        self.binding = binding  # the child's bind request: task, dsl, threads, precision
        self.child = child  # anything with make(params) -> Candidate | str and close()
        self.generated = 0  # points whose code this space asked the generator for (memo hits not counted)
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
        key = None
        if self.binding is not None:
            b = self.binding
            key = (str(b["digest"]), str(b["dsl"]), int(b["threads"]), str(b["precision"]), params_key(self.points[index]))
        answer = MADE.get(key) if MADE is not None and key is not None else None
        if answer is None:
            if self.child is None:
                if self.binding is None:
                    raise TaskError("this search space has no generator to make its points")
                self.child = _Child(str(self.binding["task"]["name"]))
                self.child.request({"job": "bind", **self.binding})
            answer = self.child.make(self.points[index])
            self.generated += 1
            _remember(MADE, key, answer)
        if isinstance(answer, str):
            self.declined[index] = answer
        made = answer if isinstance(answer, Candidate) else None
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

    binding = {"task": to_dict(task), "digest": task.digest, "dsl": dsl, "threads": threads, "precision": precision}
    key = (task.digest, dsl, limit, threads, precision)
    if OPENED is not None and key in OPENED:
        points, first = OPENED[key]
        if len(points) == 0:
            return Space.of(list(first))
        return Space([dict(p) for p in points], _indexed(points, first), first[0].note, binding)
    child = _Child(task.name)
    try:
        reply = child.request({"job": "open", "limit": limit, **binding})
    except BaseException:
        child.close()
        raise
    if "declined" in reply:
        child.close()
        raise NotCovered(reply["declined"])
    first = [from_dict(Candidate, c) for c in reply["candidates"]]
    points = [dict(p) for p in reply["points"]]
    _remember(OPENED, key, (points, first))
    if not points:  # generated whole: no child needed any more
        child.close()
        return Space.of(first)
    return Space(points, _indexed(points, first), first[0].note, binding, child)


def _indexed(points: list[dict[str, Any]], made: list[Candidate]) -> dict[int, Candidate | None]:
    return {points.index(c.params): c for c in made}


class _Child:
    """One long-lived tracing child (scrubbed environment, its own session, ends with its parent)."""

    def __init__(self, name: str) -> None:
        from akg_agents.verify.sandbox import scrubbed_env

        self.name = name
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
                            raise TaskError(f"task '{self.name}': generating its search space failed: "
                                            f"{reply['error'][:200]}")
                        return reply
            finally:
                timer.cancel()
            if expired.is_set():
                raise TaskError(f"task '{self.name}': no answer within {TIMEOUT_S:.0f} s while generating a candidate")
            return self._failed()

    def _failed(self) -> dict[str, Any]:
        code = self.proc.wait()
        tail = (self.stderr or ["no output"])[-1]
        if code < 0:
            tail = f"killed by signal {-code} ({tail})"
        raise TaskError(f"task '{self.name}': tracing its Model failed: {tail[:200]}")

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


def _open(task: Task, dsl: str, limit: int, threads: int, precision: str) -> dict[str, Any]:
    """The generator's first candidates, up to its first loop nest; the loop nests' points after
    whatever comes before them (the GEMMs of a product: builtin/cpp_gemm.py), or, when the first
    FRONT candidates hold no loop nest, the whole space made now."""
    for count in range(1, FRONT + 1):
        made = _generate(task, dsl, count, threads, precision)
        if len(made) < count:  # the whole space, made already
            return {"candidates": [to_dict(c) for c in made], "points": []}
        nests = [c for c in made if c.params.get("generator") == "poly"]
        if nests:
            front = made[: made.index(nests[0])]
            points = [dict(c.params) for c in front] + _loop_nest_points(threads, max(limit - len(front), 0))
            if nests == made[len(front):] and nests[0].params in points:
                return {"candidates": [to_dict(c) for c in made], "points": points}
            break
    everything = _generate(task, dsl, limit, threads, precision)
    return {"candidates": [to_dict(c) for c in everything], "points": []}


def _answer(state: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    from akg_agents.builtin.lower import NotCovered

    if request["job"] in ("open", "bind"):
        task = from_dict(Task, request["task"])
        state.update(task=task, dsl=request["dsl"], threads=request["threads"], precision=request["precision"])
        if request["job"] == "bind":
            return {}
        try:
            return _open(task, request["dsl"], request["limit"], request["threads"], request["precision"])
        except NotCovered as why:
            return {"declined": str(why)}
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


__all__ = ["MADE", "OPENED", "Space", "memo_on", "open_space", "params_key"]
