"""Review (session 7) of poly/privatize.py: a web whose flow dependence crosses executions of a
loop (a read in a later iteration of an outer loop sees the last value of an earlier execution)
must not be expanded over that loop: the expanded cell would hold another iteration's value."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from akg_agents.poly.config import from_dict
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build
from akg_agents.poly.privatize import expand
from akg_agents.poly.runner import compare, compile_c, run_once

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


@pytest.fixture(autouse=True)
def _build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_POLY_BUILD", str(tmp_path))


def _read_in_later_executions() -> Kernel:
    """for t, i: if (t <= 0) tmp = A[i]; B[t][i] = tmp.  For t >= 1 every B[t][i] is A[N-1]: the
    last write of the t = 0 execution of loop i.  Loop i carries no dependence inside one
    execution, but tmp's flow dependences cross its executions with different values of i."""
    k = Kernel("crossexec", ["N"], {"MINI": {"N": 20}, "SMALL": {"N": 40}}, "test")
    k.array("A", ["N"], init="(double)(i0 + 1)")
    k.array("B", ["N", "N"])
    k.array("tmp", [], output=False)
    with k.loop("t", 0, "N"), k.loop("i", 0, "N"):
        k.stmt("tmp = A[i]", where="t <= 0")  # t = 0
        k.stmt("B[t][i] = tmp")
    return k


def test_flow_across_executions_of_the_loop_is_not_expanded_over() -> None:
    # tmp_p0[i] would give B[t][i] = A[i] for t >= 1 instead of A[N-1]
    p = expand(_read_in_later_executions())
    assert p.webs == [], p.report


@needs_gcc
def test_privatised_kernel_matches_the_original() -> None:
    k = _read_in_later_executions()
    cfg = {"base": "pluto_like", "tile": False, "privatize": True, "min_parallel_work": 0}
    ref, got = build(k, "orig", "MINI"), build(k, from_dict(cfg), "MINI")
    assert ref is not None and got is not None
    out = Path(os.environ["AKG_POLY_BUILD"])
    r_bin, g_bin = out / "r.bin", out / "g.bin"
    run_once(compile_c(ref.source, "gcc", "crossexec-orig"), 1, r_bin)
    run_once(compile_c(got.source, "gcc", "crossexec-priv"), 2, g_bin)
    ok, err, bad = compare(k, "MINI", r_bin, g_bin)
    assert ok, f"{bad} differs (max rel err {err})"
