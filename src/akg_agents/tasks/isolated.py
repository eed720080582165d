"""Run the task's own code somewhere other than the CLI's process.

The built-in generator traces the task's Model with torch.fx, and the LLM workflows analyse it
the same way: both execute the task file (with `--request`, a file a model wrote). The CLI's
process never does: these steps run in a child process with the sandbox's scrubbed environment
(no API keys), and come back as JSON.

    candidates = generate_isolated(task, "cpp", 4, threads=0)   # NotCovered raised here as before
    analysis = analyze_isolated(task)

`python -m akg_agents.tasks.isolated` is the child: one JSON request on stdin, one JSON reply on
stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from collections.abc import Callable
from typing import Any, TypeVar

from akg_agents.errors import TaskError
from akg_agents.records import Candidate, Task, from_dict, to_dict

TIMEOUT_S = 600.0
T = TypeVar("T")


def _run(request: dict[str, Any], timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    from akg_agents.verify.sandbox import scrubbed_env

    cache = os.environ.get("AKG_AGENTS_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "akg_agents"))
    try:
        # Its own session: a Ctrl-C at the terminal asks a bench to finish the task in flight,
        # which includes this step (a second Ctrl-C stops the parent, and run() kills the child).
        done = subprocess.run([sys.executable, "-m", "akg_agents.tasks.isolated"], input=json.dumps(request),
                              capture_output=True, text=True, timeout=timeout_s, env=scrubbed_env(cache),
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        raise TaskError(f"task '{request['task']['name']}': no answer within {timeout_s:.0f} s while tracing its Model") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if done.returncode < 0:
            tail = f"killed by signal {-done.returncode} ({tail})"
        raise TaskError(f"task '{request['task']['name']}': tracing its Model failed: {tail[:200]}")
    reply: dict[str, Any] = json.loads(lines[-1])
    return reply


def generate_isolated(task: Task, dsl: str, count: int, threads: int = 0, meta: bool = True,
                      precision: str = "fp32") -> list[Candidate]:
    """meta=False traces on the task's real inputs only (the meta-device attempt is skipped);
    `precision`: the --precision the task is verified in (the generator traces it cast to it)."""
    from akg_agents.builtin.lower import NotCovered

    reply = _run({"job": "generate", "task": to_dict(task), "dsl": dsl, "count": count, "threads": threads, "meta": meta,
                  "precision": precision})
    if "declined" in reply:
        raise NotCovered(reply["declined"])
    return [from_dict(Candidate, c) for c in reply["candidates"]]


def analyze_isolated(task: Task, meta: bool = True) -> Any:
    from akg_agents.agents.analysis import OpAnalysis, OpInfo

    data = _run({"job": "analyze", "task": to_dict(task), "meta": meta})["analysis"]
    return OpAnalysis(
        ops=[OpInfo(o["name"], o["kind"], tuple(o["shape"])) for o in data["ops"]],
        input_shapes=[tuple(s) for s in data["input_shapes"]], output_shapes=[tuple(s) for s in data["output_shapes"]],
        dtypes=list(data["dtypes"]), flops=float(data["flops"]), bytes=float(data["bytes"]), note=str(data["note"]),
    )


def _shapes_only(job: Callable[[], T]) -> T | None:
    """`job` with every tensor the task makes on the meta device (shapes and dtypes, no data), or
    None when that does not work out.

    Tracing needs only shapes and dtypes, but the task's get_inputs() makes KernelBench's
    published sizes (6.4 GB for 19_ReLU) and its forward runs once on them: seconds to minutes
    on the CPU before a GPU candidate is even written. Anything that reads a value (`.item()`,
    a data-dependent branch) raises on meta tensors; then the caller does it again on real data.
    A decline is also redone on real data, so that its reason is the one real data gives.

    Some reads do not raise on meta tensors but answer differently, and the task's code can act on
    them: `data_ptr()` is 0 for every meta tensor (two buffers look tied), `.device` says meta, and
    a tensor made with an explicit `device="cpu"` is real data drawn from a random state the meta
    run left elsewhere (meta factories draw nothing). Any of these while tracing (the first two
    from the task's own code, the last anywhere) is taken as "does not work out" too.
    """
    import torch

    watch = _meta_watch()
    try:
        with torch.device("meta"), watch:
            made = job()
    except Exception:  # the real-data run below decides, and reports its own error
        return None
    return None if watch.seen else made


_TASK_FILE = "<task "  # the task's code is compiled under this file name (builtin/generator.py)
_POINTER_READS = {"data_ptr", "untyped_storage", "storage", "_storage", "storage_offset", "__repr__", "__str__",
                  "__format__", "device", "is_meta", "is_cpu", "is_cuda", "get_device"}


def _func_name(func: Any) -> str:
    owner = getattr(func, "__self__", None)  # a property's getter: the descriptor names it
    if owner is not None and type(owner).__name__ == "getset_descriptor":
        return str(getattr(owner, "__name__", ""))
    return str(getattr(func, "__name__", ""))


def _from_task(depth: int = 4) -> bool:
    frame: types.FrameType | None = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        if frame.f_code.co_filename.startswith(_TASK_FILE):
            return True
        frame = frame.f_back
    return False


def _real_tensor(value: Any) -> bool:
    import torch

    if isinstance(value, torch.Tensor):
        return value.device.type != "meta"
    if isinstance(value, (list, tuple)):
        return any(_real_tensor(v) for v in value)
    return False


def _meta_watch_class() -> type:
    from torch.overrides import TorchFunctionMode

    class MetaWatch(TorchFunctionMode):
        """Notes (in `seen`) what `_shapes_only` cannot trust on meta tensors."""

        def __init__(self) -> None:
            super().__init__()
            self.seen: str | None = None

        def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
            if self.seen is None and _func_name(func) in _POINTER_READS and _from_task():
                self.seen = f"the task reads {_func_name(func)} of a meta tensor"
            result = func(*args, **(kwargs or {}))
            if self.seen is None and _real_tensor(result):
                self.seen = f"{_func_name(func)} made a tensor with real data while tracing on meta tensors"
            return result

    return MetaWatch


def _meta_watch() -> Any:  # the class is made on first use: torch is imported late here
    return _meta_watch_class()()


def _exit_with_parent(poll_s: float = 1.0) -> None:
    """End this child when the process that started it is gone.

    The child runs in its own session (a Ctrl-C at the terminal must not reach it), so a bench
    killed with SIGKILL leaves it running, and only its parent enforced TIMEOUT_S: an orphaned
    trace of a full-size task once kept a core busy for 70 minutes after its bench was killed.
    """
    import threading
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(3)

    threading.Thread(target=watch, name="akg-exit-with-parent", daemon=True).start()


def _child() -> None:
    import dataclasses

    _exit_with_parent()
    request = json.loads(sys.stdin.read())
    task = from_dict(Task, request["task"])
    reply: dict[str, Any]
    if request["job"] == "generate":
        from akg_agents.builtin.generator import generate
        from akg_agents.builtin.lower import NotCovered

        def candidates() -> list[Candidate]:
            return generate(task, request["dsl"], request["count"], request["threads"], request.get("precision", "fp32"))

        try:
            made = _shapes_only(candidates) if request.get("meta", True) else None
            reply = {"candidates": [to_dict(c) for c in (made if made is not None else candidates())]}
        except NotCovered as why:
            reply = {"declined": str(why)}
    elif request["job"] in ("poly_nest", "poly_code"):  # an LLM-proposed PolyTOPS config (workflows/poly_config.py)
        from akg_agents.builtin.poly_config import child_reply

        reply = child_reply(task, request)
    else:
        from akg_agents.agents.analysis import analyze_task

        analysis = _shapes_only(lambda: analyze_task(task)) if request.get("meta", True) else None
        if analysis is None or analysis.note:  # the note says tracing failed: real data may trace
            analysis = analyze_task(task)
        reply = {"analysis": dataclasses.asdict(analysis)}
    sys.stdout.flush()
    os.write(1, ("\n" + json.dumps(reply) + "\n").encode())  # after anything the task printed


if __name__ == "__main__":
    _child()
