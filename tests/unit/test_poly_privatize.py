"""Privatisation of temporaries (poly/privatize.py): expansion frees outer parallelism, the
result matches the original order, contraction gives per-iteration locals, an upward-exposed
read is refused, and the key is off by default."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from akg_agents.poly import kernels
from akg_agents.poly.config import ConfigError, from_dict, preset
from akg_agents.poly.dsl import Kernel
from akg_agents.poly.pipeline import build
from akg_agents.poly.privatize import expand
from akg_agents.poly.runner import compare, compile_c, run_once

needs_gcc = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")


@pytest.fixture(autouse=True)
def _build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_POLY_BUILD", str(tmp_path))


def _kernel_fn(source: str) -> str:
    """The kernel function of a harness program (main starts OpenMP's threads before the clock)."""
    return source.split("void kernel(")[1].split("int main(")[0]


def _matches_original(k: Kernel, cfg: dict, size: str, tag: str) -> str:  # type: ignore[type-arg]
    ref = build(k, "orig", size)
    got = build(k, from_dict(cfg), size)
    assert ref is not None and got is not None
    out = Path(os.environ["AKG_POLY_BUILD"])
    r_bin, g_bin = out / f"{tag}-r.bin", out / f"{tag}-g.bin"
    run_once(compile_c(ref.source, "gcc", f"{tag}-orig"), 1, r_bin)
    run_once(compile_c(got.source, "gcc", f"{tag}-priv"), 2, g_bin)
    ok, err, bad = compare(k, size, r_bin, g_bin)
    assert ok, f"{tag}: {bad} differs (max rel err {err})"
    return got.source


def _kernel_body(src: str) -> str:
    return src.split("KERNEL_ATTR void kernel(", 1)[1].split("\nint main", 1)[0]


def test_symm_temp2_is_expanded_over_the_loop_it_alone_serialises() -> None:
    # i carries C's flow dependences (C[k][j] for k < i), j only temp2's false ones
    p = expand(kernels.get("symm"))
    assert [(w.array, [v for v, _ in w.loops]) for w in p.webs] == [("temp2", ["j"])]
    assert "temp2_p0[j] += B[k][j] * A[i][k]" in [st.body for st in p.kernel.statements]


@needs_gcc
def test_symm_gets_outer_parallelism_only_with_privatisation() -> None:
    k = kernels.get("symm")
    plain = build(k, preset("cpu_vectorize"), "SMALL")
    assert plain is not None and "omp parallel for" not in plain.source  # temp2 blocks j
    src = _matches_original(k, {"base": "cpu_vectorize", "privatize": True}, "SMALL", "symm")
    body = _kernel_body(src)
    head, _, rest = body.partition("#pragma omp parallel for")
    assert rest and "double temp2_p0;" in rest and "temp2_p0" not in head  # a private scalar


def _scalar_temp(first_read: bool) -> Kernel:
    """for i, j: t = A[i][j] * 2; B[i][j] = t * t + t  (or B read t before it is written)."""
    k = Kernel("tmp", ["N"], {"MINI": {"N": 37}, "SMALL": {"N": 60}}, "test")
    k.array("A", ["N", "N"]); k.array("B", ["N", "N"]); k.array("t", [], output=False)  # noqa: E702
    with k.loop("i", 0, "N"), k.loop("j", 0, "N", hint="serial"):
        if first_read:
            k.stmt("B[i][j] = t + A[i][j]")
        k.stmt("t = A[i][j] * 2 + B[i][j]")
        if not first_read:
            k.stmt("B[i][j] = t * t + t")
    return k


@needs_gcc
def test_contracted_to_a_private_local_of_the_parallel_loop() -> None:
    k = _scalar_temp(first_read=False)
    cfg = {"base": "pluto_like", "tile": False, "privatize": True, "min_parallel_work": 0}
    b = build(k, from_dict(cfg), "MINI")
    assert b is not None and any("private" in n for n in b.notes), b.notes
    body = _kernel_body(_matches_original(k, cfg, "MINI", "local"))
    # one fresh t per iteration of the parallel loop, declared inside its body
    head, _, rest = body.partition("#pragma omp parallel for")
    assert rest and "double t_p0;" in rest and "t_p0" not in head
    assert "double t_p0[" not in body  # contracted: no expanded array
    off = build(k, from_dict({**cfg, "privatize": False}), "MINI")
    assert off is not None and "omp parallel" not in _kernel_fn(off.source)  # t serialises i without it


def test_upward_exposed_read_is_refused() -> None:
    k = _scalar_temp(first_read=True)  # B[i][j] = t + .. reads the previous iteration's t
    p = expand(k)
    assert p.webs == [] and any("kept" in line for line in p.report)
    assert [st.body for st in p.kernel.statements] == [st.body for st in k.statements]
    b = build(k, from_dict({"base": "pluto_like", "tile": False, "privatize": True,
                            "min_parallel_work": 0}), "MINI")
    assert b is not None and "omp parallel" not in _kernel_fn(b.source)


def test_loops_carrying_true_dependences_are_not_expanded_over() -> None:
    # durbin's k and gramschmidt's k carry flow dependences (y; A, R, Q): privatising sum, z or
    # nrm over k would not make k parallel, so nothing is expanded
    assert expand(kernels.get("durbin")).webs == []
    assert expand(kernels.get("gramschmidt")).webs == []


@needs_gcc
@pytest.mark.parametrize("name", ["deriche", "doitgen", "ludcmp"])
def test_privatised_kernels_match_the_original(name: str) -> None:
    _matches_original(kernels.get(name), {"base": "cpu_vectorize", "privatize": True}, "MINI", name)


def test_off_by_default() -> None:
    assert all(not preset(p).privatize for p in ("isl_like", "pluto_like", "feautrier_like",
                                                  "cpu_vectorize", "cpu_tilemodel"))
    k = kernels.get("symm")
    a, b = build(k, preset("cpu_vectorize"), "MINI"), build(k, from_dict({"base": "cpu_vectorize"}), "MINI")
    assert a is not None and b is not None and a.source == b.source and "temp2_p" not in a.source


@needs_gcc
def test_local_mode_keeps_only_contractible_webs() -> None:
    # deriche: each scalar's initialisation (in the outer loop only) is distributed from the
    # inner recurrence, so the scalars stay expanded (ym1_p0[W]...) with privatize: true;
    # privatize: local drops those webs and reschedules (the original schedule here)
    k = kernels.get("deriche")
    expanded = build(k, from_dict({"base": "cpu_vectorize", "privatize": True}), "MINI")
    assert expanded is not None and "double ym1_p0[" in expanded.source
    assert any("kept expanded" in n for n in expanded.notes)
    src = _matches_original(k, {"base": "cpu_vectorize", "privatize": "local"}, "MINI", "deriche-local")
    plain = build(k, preset("cpu_vectorize"), "MINI")
    assert plain is not None and _kernel_body(src) == _kernel_body(plain.source)
    # doitgen: sum[p] becomes a local array of each (r, q) iteration under omp parallel for r
    k = kernels.get("doitgen")
    cfg = {"base": "cpu_vectorize", "privatize": "local"}
    body = _kernel_body(_matches_original(k, cfg, "MINI", "doitgen-local"))
    assert "double sum_p0[NP];" in body and "omp parallel for" in body.split("double sum_p0[NP];")[0]


def test_bad_privatize_value_is_one_line_error() -> None:
    with pytest.raises(ConfigError, match="privatize must be"):
        from_dict({"privatize": "yes"})
