"""A DSL defined OUTSIDE akg_agents, found through an `akg_agents.dsl` entry point, is usable by
`akg_cli op --dsl ext_c` with no edit anywhere in the package: help, target validation, the
built-in generator hook, the sandboxed worker (launch counting), verification and export.

The plugin is a tiny distribution written into a temporary folder (a package plus a
`*.dist-info` with `entry_points.txt`), put on sys.path here and on PYTHONPATH for the CLI and
its sandboxed worker, exactly as `pip install` would make it visible.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from akg_agents.dsl import get_plugin, registry, target_help, target_table, validate_target
from akg_agents.errors import ConfigError
from akg_agents.skills import load_skills
from akg_agents.verify.static import check_source

REPO = Path(__file__).resolve().parents[2]

RUNTIME = '''
"""ext_c's runtime: C source -> cc -> shared library -> ctypes (tensors as pointers)."""
import ctypes, hashlib, os, subprocess, tempfile

LAUNCHES = [0]


class Library:
    def __init__(self, path):
        self._lib = ctypes.CDLL(path)

    def __getattr__(self, name):
        function = getattr(self._lib, name)

        def launch(*args):
            LAUNCHES[0] += 1
            converted = [ctypes.c_void_p(a.data_ptr()) if hasattr(a, "data_ptr") else
                         ctypes.c_double(a) if isinstance(a, float) else ctypes.c_int64(a) for a in args]
            function(*converted)

        return launch


def load_c(source):
    root = os.environ.get("AKG_AGENTS_CACHE") or tempfile.gettempdir()
    os.makedirs(root, exist_ok=True)
    library = os.path.join(root, "ext_c_" + hashlib.sha256(source.encode()).hexdigest()[:16] + ".so")
    if not os.path.exists(library):
        src = library[:-3] + ".c"
        with open(src, "w") as handle:
            handle.write(source)
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", src, "-o", library + ".tmp"], check=True)
        os.replace(library + ".tmp", library)
    return Library(library)
'''

EXAMPLE = '''
import torch
import torch.nn as nn
from akg_ext_cdsl.runtime import load_c

SOURCE = r"""
#include <stdint.h>
void relu(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) { float v = x[i]; y[i] = v < 0.0f ? 0.0f : v; }
}
"""
_lib = load_c(SOURCE)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        y = torch.empty_like(x)
        _lib.relu(x, y, x.numel())
        return y
'''

PLUGIN = '''
"""ext_c: plain C kernels on the CPU, a DSL that akg_agents has never heard of."""
import ast
import shutil
from contextlib import contextmanager

from akg_agents.dsl.base import Violation, dotted_name, walk_calls
from akg_agents.records import Candidate

from akg_ext_cdsl import runtime

EXAMPLE = {example!r}


class Count:
    def __init__(self):
        self.start = runtime.LAUNCHES[0]

    def count(self):
        return runtime.LAUNCHES[0] - self.start


class ExtC:
    name = "ext_c"
    backend = "cpu"
    device_type = "cpu"
    language = "python"

    def static_check(self, tree, code):
        if not any(dotted_name(call.func).endswith("load_c") for call in walk_calls(tree)):
            return [Violation("kernel-not-built", "the candidate never calls load_c(...)")]
        return []

    @contextmanager
    def instrument(self):
        yield Count()

    def toolchain_problem(self):
        return None if shutil.which("cc") else "cc was not found on PATH"

    def export(self, code):
        return "# ext_c kernel: needs the akg_ext_cdsl package\\n" + code

    def contract(self):
        return "Write ModelNew; build C with akg_ext_cdsl.runtime.load_c(SOURCE) and call its functions."

    def example(self):
        return EXAMPLE

    def skills_dir(self):
        import os
        return os.path.join(os.path.dirname(__file__), "skills")

    def builtin_candidates(self, task, count, threads=0):
        return [Candidate(id="builtin-ext_c-0", dsl="ext_c", code=EXAMPLE, note="relu in plain C")]


PLUGIN = ExtC()
'''

SKILL = """---
name: ext-c-loops
dsl: ext_c
category: parallelism
description: keep C loops simple so cc vectorizes them
---
## Why
Plain loops vectorize.
"""


@pytest.fixture()
def external_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed-looking distribution on sys.path with an `akg_agents.dsl` entry point."""
    site = tmp_path / "site"
    package = site / "akg_ext_cdsl"
    (package / "skills").mkdir(parents=True)
    (package / "runtime.py").write_text(RUNTIME)
    (package / "__init__.py").write_text(PLUGIN.format(example=textwrap.dedent(EXAMPLE).lstrip()))
    (package / "skills" / "loops.md").write_text(SKILL)
    dist = site / "akg_ext_cdsl-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: akg-ext-cdsl\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[akg_agents.dsl]\next_c = akg_ext_cdsl:PLUGIN\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_dsls", {})  # plugins loaded by other tests stay out of this one
    return site


def test_an_installed_dsl_is_found_validated_listed_and_checked(external_dist: Path) -> None:
    plugin = get_plugin("ext_c")
    assert plugin.backend == "cpu"
    assert "ext_c" in target_table()["cpu"][1]
    assert "cpu/x86_64|aarch64/cpp|ext_c" in target_help()
    validate_target("cpu", "x86_64", "ext_c")
    with pytest.raises(ConfigError, match="does not run on backend cuda"):
        validate_target("cuda", "h100", "ext_c")
    assert check_source(plugin.example(), plugin)[1] == []
    rules = [v.rule for v in check_source(plugin.example().replace("load_c(SOURCE)", "None"), plugin)[1]]
    assert rules == ["kernel-not-built"]
    assert "ext-c-loops" in {s.name for s in load_skills() if s.dsl == "ext_c"}


def test_without_the_distribution_the_dsl_is_unknown_in_one_line() -> None:
    with pytest.raises(ConfigError, match="no plugin for DSL 'ext_c'; known: cpp, triton_cuda"):
        get_plugin("ext_c")


def test_a_broken_entry_point_is_one_line(external_dist: Path) -> None:
    dist = external_dist / "akg_ext_cdsl-0.1.dist-info" / "entry_points.txt"
    dist.write_text("[akg_agents.dsl]\next_c = akg_ext_cdsl:PLUGIN\next_bad = akg_ext_cdsl:MISSING\n")
    with pytest.raises(ConfigError, match=r"DSL plugin 'ext_bad' .* cannot be loaded"):
        get_plugin("ext_bad")
    assert "ext_c" in target_table()["cpu"][1]  # one broken plugin does not hide the others


def test_akg_cli_op_runs_the_external_dsl_end_to_end(external_dist: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(external_dist), os.environ.get("PYTHONPATH", "")]),
           "AKG_AGENTS_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("AKG_AGENTS_CONFIG", None)
    helped = subprocess.run([sys.executable, "-m", "akg_agents.cli", "op", "--help"], env=env, capture_output=True,
                            text=True, cwd=REPO, timeout=120)
    assert "ext_c" in helped.stdout
    done = subprocess.run(
        [sys.executable, "-m", "akg_agents.cli", "op", "--backend", "cpu", "--dsl", "ext_c", "--model", "builtin",
         "--task", "examples/tasks/relu.py", "--max-candidates", "1", "-o", str(tmp_path / "runs")],
        env=env, capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "best builtin-ext_c-0" in done.stdout
    exported = next((tmp_path / "runs").rglob("best_kernel.py"), None)
    assert exported is not None and "needs the akg_ext_cdsl package" in exported.read_text()
