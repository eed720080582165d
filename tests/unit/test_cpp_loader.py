from __future__ import annotations

import multiprocessing
import os
import uuid
from pathlib import Path

import pytest
import torch

from akg_agents.dsl import cpp_loader

SOURCE = """
#include <cstdint>
// {nonce}
extern "C" void add_one(const float* x, float* y, int64_t n, double step) {{
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] + (float)step;
}}
"""


def _compile_in_child(args: tuple[str, str]) -> str:
    cache, source = args
    os.environ["AKG_AGENTS_CACHE"] = cache
    return cpp_loader.compile_cpp(source)


def test_concurrent_compiles_of_one_source_share_one_library(tmp_path: Path) -> None:
    source = SOURCE.format(nonce=uuid.uuid4().hex)
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        paths = pool.map(_compile_in_child, [(str(tmp_path), source)] * 4)
    assert len(set(paths)) == 1 and Path(paths[0]).exists()
    assert len(list((tmp_path / "cpp").glob("*.so"))) == 1


def test_arguments_are_converted_and_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(tmp_path))
    lib = cpp_loader.load_cpp(SOURCE.format(nonce="args"))
    x = torch.arange(6, dtype=torch.float32)
    y = torch.empty_like(x)
    lib.add_one(x, y, x.numel(), 0.5)
    assert torch.equal(y, x + 0.5)
    with pytest.raises(ValueError, match="contiguous"):
        lib.add_one(x.view(2, 3).t(), y, 6, 0.5)
    with pytest.raises(TypeError, match="arguments"):
        lib.add_one(x, y, 6)


def test_compile_errors_carry_the_compiler_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", str(tmp_path))
    with pytest.raises(cpp_loader.CppCompileError, match="not_declared"):
        cpp_loader.load_cpp('extern "C" void f() { not_declared(); }')


def test_the_vectorization_report_names_loops_g_plus_plus_left_scalar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from akg_agents.dsl.cpp import vectorization_summary

    monkeypatch.setenv("AKG_AGENTS_CACHE", str(tmp_path))
    source = """
#include <cstdint>
extern "C" void f(const float* __restrict x, float* __restrict y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * 2.0f;
    for (int64_t i = 1; i < n; ++i) y[i] = y[i - 1] + x[i];
}
"""
    summary = vectorization_summary(cpp_loader.compile_cpp(source))
    assert "line 4: vectorized" in summary
    assert "line 5: NOT vectorized" in summary
