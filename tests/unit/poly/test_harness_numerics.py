"""The PolyBench harness and data: what the bench's correctness check and timings rest on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from akg_agents.poly import kernels
from akg_agents.poly.pipeline import build
from akg_agents.poly.runner import GCC, build_dir, compare, run_once

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


def _run(source: str, flags: list[str], tag: str) -> Path:
    src = build_dir() / f"{tag}.c"
    src.write_text(source)
    exe = src.with_suffix("")
    subprocess.run([*GCC, *flags, str(src), "-o", str(exe), "-lm"], check=True, capture_output=True)
    out = build_dir() / f"{tag}.bin"
    run_once(exe, 1, out)
    return out


@needs_gcc
@pytest.mark.parametrize("size", ["SMALL", "MEDIUM"])
def test_durbin_data_survives_a_legal_change_of_rounding(size: str) -> None:
    # the original compiled without FMA contraction is the same program with other roundings:
    # the check must accept it, and its output must be finite (the earlier data gave NaN there,
    # so no reordering of durbin could be judged)
    k = kernels.get("durbin")
    source = build(k, "orig", size).source  # type: ignore[union-attr]
    fma = _run(source, [], f"durbin-fma-{size}")
    no_fma = _run(source, ["-ffp-contract=off"], f"durbin-nofma-{size}")
    y = np.fromfile(no_fma)
    assert np.all(np.isfinite(y))
    ok, err, bad = compare(k, size, fma, no_fma)
    assert ok, (err, bad)
    # every coefficient is computed, none is a rounding residue: the check sees each iteration
    n = k.sizes[size]["N"]
    assert np.min(np.abs(y[-n:])) > 1e-6


@needs_gcc
def test_durbin_check_rejects_a_skipped_iteration() -> None:
    # the last reflection coefficient still moves y: dropping the last iteration must fail
    k = kernels.get("durbin")
    source = build(k, "orig", "SMALL").source  # type: ignore[union-attr]
    short = source.replace("for (int k = 1; k < N; k++)", "for (int k = 1; k < N - 1; k++)")
    assert short != source
    ref = _run(source, [], "durbin-ref")
    got = _run(short, [], "durbin-short")
    assert not compare(k, "SMALL", ref, got)[0]


def test_the_thread_pool_starts_before_the_clock() -> None:
    # a parallel variant is timed on its kernel, not on creating OpenMP's threads: the warm-up
    # parallel region comes before the cache flush and the timer, in every variant's program
    for variant in ("orig", "cpu_vectorize"):
        main = build(kernels.get("gemm"), variant, "MINI").source.split("int main(")[1]  # type: ignore[union-attr]
        warm, flush, clock = main.index("#pragma omp parallel"), main.index("flush_cache();"), main.index("t0 =")
        assert warm < flush < clock

