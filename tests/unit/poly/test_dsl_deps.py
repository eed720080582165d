"""DSL lowering and dependence analysis."""

from __future__ import annotations

import islpy as isl
import pytest

from akg_agents.poly import kernels
from akg_agents.poly.deps import check_schedule, compute_dependences
from akg_agents.poly.dsl import Kernel


def _tiny() -> Kernel:
    k = Kernel("tiny", ["N"], {"MINI": {"N": 8}})
    k.array("A", ["N"])
    k.array("B", ["N"])
    with k.loop("i", 1, "N", hint="parallel"):
        k.stmt("A[i] = A[i-1] + B[i]")
        k.stmt("B[i] += 1.0")
    return k


def test_dsl_parses_accesses_domains_and_original_schedule() -> None:
    k = _tiny()
    s0, s1 = k.statements
    assert [a.isl_text() for a in s0.writes] == ["A[i]"]
    assert sorted(a.isl_text() for a in s0.reads) == ["A[i-1]", "B[i]"]
    assert [a.isl_text() for a in s1.reads] == ["B[i]"]  # compound assignment reads too
    assert k.domain_of(s0).is_equal(isl.Set("[N] -> { S0[i] : 1 <= i < N }"))
    assert k.original_dims(s1) == ["0", "i", "1"]
    ref = k.reference_c()
    assert "for (int i = 1; i < N; i++)" in ref and "A[i] = A[i-1] + B[i];" in ref


def test_dsl_rejects_bad_statements() -> None:
    k = _tiny()
    with pytest.raises(ValueError):
        k.stmt("A[i] + 1")  # not an assignment
    with pytest.raises(ValueError):
        k.stmt("A[i][i] = 0")  # wrong rank
    with pytest.raises(ValueError), k.loop("j", 0, "N", hint="fast"):
        pass


def test_reverse_loops_have_negated_schedule() -> None:
    k = kernels.get("nussinov")
    assert k.original_dims(k.statements[0])[1] == "-i"
    assert "i--" in k.reference_c()


def test_seidel_loop_carried_flow_dependence() -> None:
    k = kernels.get("seidel-2d")
    deps = compute_dependences(k)
    flow = deps.flow
    # A[i][j] written at (t, i, j) is read by (t, i, j+1) and by (t+1, i-1, ...) and (t, i+1, j)
    pairs = [("[t, i, j] -> [t, i, j + 1]", "same t, next j"),
             ("[t, i, j] -> [t, i + 1, j]", "same t, next i"),
             ("[t, i, j] -> [t + 1, i, j]", "next t")]
    for rel, why in pairs:
        probe = isl.UnionMap(f"[TSTEPS, N] -> {{ S0{rel.split(' -> ')[0]} -> S0{rel.split(' -> ')[1]} : "
                             "TSTEPS = 10 and N = 10 and 2 <= t < 5 and 2 <= i < 6 and 2 <= j < 6 }")
        assert not probe.intersect(flow).is_empty(), why
    # every flow dependence goes forward in time or forward in (i, j) at equal t
    assert not deps.anti.is_empty() and not deps.output.is_empty()


def test_kills_keep_only_last_writer() -> None:
    k = Kernel("kill", ["N"], {"MINI": {"N": 8}})
    k.array("A", ["N"])
    k.array("x", [])
    with k.loop("i", 0, "N"):
        k.stmt("x = A[i]")
        k.stmt("A[i] = x")
    flow = compute_dependences(k).flow
    # S1[i] reads x written by S0[i] only (older writes are killed)
    bad = isl.UnionMap("[N] -> { S0[i] -> S1[j] : j > i }")
    assert flow.intersect(bad).is_empty()
    assert not flow.intersect(isl.UnionMap("[N] -> { S0[i] -> S1[i] }")).is_empty()


def test_checker_accepts_original_and_rejects_invalid_schedule() -> None:
    k = kernels.get("seidel-2d")
    deps = compute_dependences(k)
    assert check_schedule(k.original_schedule(), deps.all) == []
    # reversing the time loop violates the flow dependences: must be caught (negative test)
    bad = isl.UnionMap("[TSTEPS, N] -> { S0[t, i, j] -> [-t, i, j] }")
    problems = check_schedule(bad, deps.all)
    assert problems and "violated" in problems[0]
    # interchange t and j is also invalid for seidel (dependence (0, 1, -1) etc.)
    assert check_schedule(isl.UnionMap("[TSTEPS, N] -> { S0[t, i, j] -> [j, i, t] }"), deps.all)
