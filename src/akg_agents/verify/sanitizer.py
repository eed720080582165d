"""Opt-in deep check for a failing GPU candidate: run it once under `compute-sanitizer`.

A mismatch or a crash says *that* a kernel is wrong; memcheck says *where*: the kernel, the
thread and block, and the address of an out-of-bounds or misaligned access. It is slow (tens of
times slower than a normal run), so the verifier never runs it by itself; a workflow or a user
asks for it on a candidate that already failed (`sanitize(task, candidate)`), and the report
goes into the next prompt.

The candidate runs in its own subprocess with the scrubbed sandbox environment and a timeout,
never in this process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from akg_agents.records import Candidate, Task
from akg_agents.verify.sandbox import scrubbed_env

TOOLS = ("memcheck", "racecheck", "initcheck", "synccheck")

# Runs inside the sanitized process: build both models like the worker does, call forward once.
_SCRIPT = """\
import sys, types, torch
def load(path, name):
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    exec(compile(open(path).read(), path, "exec"), module.__dict__)
    return module
task = load("task.py", "akg_task")
cand = load("candidate.py", "akg_candidate")
torch.manual_seed(1234)
model = cand.ModelNew(*task.get_init_inputs())
model = model.cuda().eval() if isinstance(model, torch.nn.Module) else model
torch.manual_seed(0)
inputs = [v.cuda() if isinstance(v, torch.Tensor) else v for v in task.get_inputs()]
with torch.no_grad():
    model(*inputs)
torch.cuda.synchronize()
print("AKG_SANITIZER_RUN_DONE")
"""


def sanitizer_path() -> str | None:
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if home and os.path.exists(os.path.join(home, "bin", "compute-sanitizer")):
            return os.path.join(home, "bin", "compute-sanitizer")
    return shutil.which("compute-sanitizer")


def sanitize(
    task: Task, candidate: Candidate, tool: str = "memcheck", timeout_s: float = 300.0,
    cache_dir: str | None = None, env_extra: dict[str, str] | None = None, max_chars: int = 6000,
) -> str:
    """Run `candidate` once under compute-sanitizer; return its report (the tail, as text).

    The report starts with a one-line verdict: "no errors", "N errors" or why it did not run.
    """
    if tool not in TOOLS:
        raise ValueError(f"unknown compute-sanitizer tool {tool!r}; one of {', '.join(TOOLS)}")
    binary = sanitizer_path()
    if binary is None:
        return "compute-sanitizer not found: install the CUDA toolkit (it ships in CUDA_HOME/bin)"
    with tempfile.TemporaryDirectory(prefix="akg_sanitize_") as work:
        for name, text in (("task.py", task.source), ("candidate.py", candidate.code), ("run.py", _SCRIPT)):
            with open(os.path.join(work, name), "w") as handle:
                handle.write(text)
        env = scrubbed_env(cache_dir or os.path.join(work, "cache"), env_extra)
        command = [binary, "--tool", tool, "--error-exitcode", "99", "--print-limit", "20", sys.executable, "run.py"]
        try:
            proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return f"compute-sanitizer {tool}: no result within {timeout_s:.0f} s"
    text = (proc.stdout + proc.stderr).replace("AKG_SANITIZER_RUN_DONE\n", "")
    return _verdict(tool, proc.returncode, text) + "\n" + text[-max_chars:]


def _verdict(tool: str, returncode: int, text: str) -> str:
    summary = next((line for line in reversed(text.splitlines()) if "ERROR SUMMARY" in line), "")
    if returncode == 0:
        return f"compute-sanitizer {tool}: no errors"
    if returncode == 99 or summary:
        return f"compute-sanitizer {tool}: {summary.split('ERROR SUMMARY:')[-1].strip() or 'errors found'}"
    return f"compute-sanitizer {tool}: the run failed (exit code {returncode})"
