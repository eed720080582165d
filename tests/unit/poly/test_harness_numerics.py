"""The PolyBench harness and data: what the bench's correctness check and timings rest on."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from akg_agents.poly import kernels
from akg_agents.poly.pipeline import build
from akg_agents.poly.runner import GCC, RTOL, build_dir, compare, run_once

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
def test_durbin_last_iteration_still_moves_every_coefficient() -> None:
    # dropping the last iteration leaves y[N-1] unset, which any data would show; with this data
    # it also moves y[0..N-2] by more than the check's tolerance, so each iteration is checked
    k = kernels.get("durbin")
    source = build(k, "orig", "SMALL").source  # type: ignore[union-attr]
    short = source.replace("for (int k = 1; k < N; k++)", "for (int k = 1; k < N - 1; k++)")
    assert short != source
    n = k.sizes["SMALL"]["N"]
    y_ref = np.fromfile(_run(source, [], "durbin-ref"))[n:2 * n - 1]  # the dump is r, then y
    y_short = np.fromfile(_run(short, [], "durbin-short"))[n:2 * n - 1]
    assert np.max(np.abs(y_ref - y_short) / np.abs(y_ref)) > 100 * RTOL


def test_the_thread_pool_starts_before_the_clock() -> None:
    # a parallel variant is timed on its kernel, not on creating OpenMP's threads: the warm-up
    # (libgomp's GOMP_parallel, called directly so that clang -fopenmp=libgomp runs it too)
    # comes before the cache flush and the timer, in every variant's program
    for variant in ("orig", "polly", "cpu_vectorize"):
        main = build(kernels.get("gemm"), variant, "MINI").source.split("int main(")[1]  # type: ignore[union-attr]
        warm, flush, clock = main.index("GOMP_parallel(warm_up"), main.index("flush_cache();"), main.index("t0 =")
        assert warm < flush < clock


@needs_gcc
def test_the_warm_up_starts_the_threads() -> None:
    # a probe built from the harness prelude: the warm-up region runs on every thread
    from akg_agents.poly.codegen import PRELUDE

    probe = PRELUDE + '''
#include <stdatomic.h>
static atomic_int seen;
static void count(void *data) { (void)data; atomic_fetch_add(&seen, 1); }
int main(void) { GOMP_parallel(warm_up, NULL, 0, 0); GOMP_parallel(count, NULL, 0, 0);
  printf("%d\\n", atomic_load(&seen)); return 0; }
'''
    src = build_dir() / "warm_probe.c"
    src.write_text(probe)
    subprocess.run([*GCC, str(src), "-o", str(src.with_suffix(""))], check=True, capture_output=True)
    out = subprocess.run([str(src.with_suffix(""))], capture_output=True, text=True, check=True,
                         env={"OMP_NUM_THREADS": "3"})
    assert out.stdout.strip() == "3"

