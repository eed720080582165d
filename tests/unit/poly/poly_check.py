"""Shared by the poly tests: a built variant computes what the original order computes."""

from __future__ import annotations

from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import Built
from akg_agents.poly.runner import build_dir, compare, compile_c, run_once


def assert_same_results(kernel: Kernel, size: str, ref: Built, got: Built, tag: str) -> None:
    """Compile both with gcc, run the original on 1 thread and `got` on 2, compare the arrays."""
    r_exe = compile_c(ref.source, "gcc", f"t-{tag}-orig")
    g_exe = compile_c(got.source, "gcc", f"t-{tag}")
    r_bin, g_bin = build_dir() / f"{tag}-r.bin", build_dir() / f"{tag}-g.bin"
    run_once(r_exe, 1, r_bin)
    run_once(g_exe, 2, g_bin)
    ok, _, bad = compare(kernel, size, r_bin, g_bin)
    assert ok, bad
