"""Farkas rows from the double description method, and the ILP's exact row reductions."""

from __future__ import annotations

import islpy as isl
import numpy as np
import pytest

from akg_agents.poly import farkas, ilp
from akg_agents.poly import kernels as kreg
from akg_agents.poly.deps import compute_dependences


def _as_set(mat: np.ndarray, const: np.ndarray, eq: np.ndarray) -> isl.BasicSet:
    names = [f"c{i}" for i in range(mat.shape[1])]
    cons = []
    for row, c, e in zip(mat.tolist(), const.tolist(), eq.tolist(), strict=True):
        lhs = " + ".join(f"{x}*{n}" for x, n in zip(row, names, strict=True) if x) or "0"
        cons.append(f"{lhs} + {c} {'=' if e else '>='} 0")
    return isl.BasicSet("{ [" + ", ".join(names) + "] : " + (" and ".join(cons) or "true") + " }")


def _same_cone(rel: isl.BasicMap) -> bool:
    gen = farkas.generators(rel)
    assert gen is not None
    ref = farkas._isl_rows(rel, [], rel.dim(isl.dim_type.in_), rel.dim(isl.dim_type.out))
    return _as_set(ref.mat, ref.const, ref.eq).is_equal(_as_set(*gen))


@pytest.mark.parametrize("text", [
    "[N] -> { S[i] -> S[i'] : i' = i + 1 and 0 <= i and i < N }",
    # equalities leave a lower-dimensional cone (the adjacency bound counts its dimension)
    "{ S[i, j] -> T[i'] : i' = i and 0 < i <= 2 and 0 < j <= 2 }",
    "[T] -> { S[t, i, j] -> S[t'] : t' = 1 + t and 0 <= t <= T and 0 < i <= 2 and 0 < j <= 2 }",
    # a variable no constraint bounds: a line (x . c = 0)
    "[N] -> { S[i, j] -> T[k] : k = i and 0 <= i < N }",
    # rational vertices (2i <= N)
    "[N] -> { S[i] -> T[j] : 2i <= N and j = i and i >= 0 and 3j >= 1 }",
    # heat-3d's 7-point star hull: isl's coefficients took 4-85 s on this one
    "[TSTEPS, N] -> { S1[t, i, j, k] -> S0[t', i', j', k'] : t' = 1 + t and TSTEPS >= 4 and N >= 4 "
    "and 0 < t < TSTEPS and 0 < i <= -2 + N and 0 < j <= -2 + N and 0 < k <= -2 + N and 0 < i' <= -2 + N "
    "and j' >= -1 + i + j - i' and j' > 0 and -1 - i + j + i' <= j' <= 1 - i + j + i' and j' <= 1 + i + j - i' "
    "and j' <= -2 + N and k' >= -1 + i + k - i' and k' >= -1 + j + k - j' and k' > 0 and k' >= -1 - j + k + j' "
    "and -1 - i + k + i' <= k' <= 1 - i + k + i' and k' <= 1 - j + k + j' and k' <= 1 + j + k - j' "
    "and k' <= 1 + i + k - i' and k' <= -2 + N }",
])
def test_double_description_gives_isls_cone(text: str) -> None:
    assert _same_cone(isl.BasicMap(text))


@pytest.mark.parametrize("name", ["seidel-2d", "lu", "adi"])
def test_double_description_on_every_dependence_of_a_kernel(name: str) -> None:
    deps = compute_dependences(kreg.get(name))
    for dep in deps.split(with_input=True):
        assert _same_cone(dep.rel), str(dep)


def test_existentials_and_empty_relations_go_to_isl() -> None:
    # existentials: isl's operator, which refuses them as before (the built-in generator
    # declines such transposed convolutions on this isl.Error)
    with_div = isl.BasicMap("{ S[i] -> T[j] : exists (e : i = 2e) and j = i and 0 <= i <= 10 }")
    assert with_div.dim(isl.dim_type.div) == 1
    with pytest.raises(isl.Error):
        farkas.farkas_rows(with_div)
    empty = isl.BasicMap("{ S[i] -> T[j] : j = i and i >= 1 and i <= 0 }")
    assert farkas.generators(empty) is None


def test_tightest_keeps_the_integer_points() -> None:
    # 2x + 1 >= 0 -> x >= 0 (floor(1/2) = 0); x + 3 >= 0 implied by x + 0 >= 0; duplicate equality
    a = np.array([[2, 0], [1, 0], [0, 1], [0, 1], [1, 1]])
    b = np.array([1, 3, -1, -1, -5])
    e = np.array([False, False, True, True, False])
    ta, tb, te, tg = ilp._tightest(a, b, e, np.arange(5))
    assert ta.tolist() == [[1, 0], [0, 1], [1, 1]]
    assert tb.tolist() == [0, -1, -5] and te.tolist() == [False, True, False] and tg.tolist() == [0, 2, 4]


def test_lazy_rows_give_the_same_lexmin_as_the_whole_system(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    system = ilp.System(lazy=True)
    for i in range(6):
        system.var(f"x{i}", 0, 9 if i else None)
    system.n_objective = 1
    # many rows, most of them redundant: x0 >= sum of a random subset minus a constant
    a = -rng.integers(0, 3, size=(400, 5))
    rows = np.hstack([np.ones((400, 1), dtype=np.int64), a])
    system.block(list(range(6)), rows, rng.integers(-4, 12, size=400), np.zeros(400, dtype=bool))
    system.ge({1: 1, 2: 1, 3: 1}, -4)  # force some non-zero coefficients
    monkeypatch.setattr(ilp, "LAZY_ROWS", 10)
    lazy = ilp.solve(system)
    monkeypatch.setattr(ilp, "LAZY_ROWS", 10**9)
    whole = ilp.solve(system)
    assert lazy is not None and lazy == whole


def test_rar_dependences_are_computed_on_first_use_only() -> None:
    from akg_agents.poly.relax import relax_reductions

    kernel = kreg.get("jacobi-1d")
    deps = compute_dependences(kernel)
    assert callable(deps.rar)  # not computed: no `rar: true` configuration asked for it
    assert all(d.kind != "input" for d in deps.split())
    assert callable(deps.rar)
    relaxed = relax_reductions(kernel, deps)
    rar = deps.input
    assert rar is not None and not rar.is_empty() and not callable(deps.rar)
    assert relaxed.input is not None and relaxed.input.is_equal(rar)
    assert any(d.kind == "input" for d in deps.split(with_input=True))


def test_values_that_could_overflow_int64_go_to_isl() -> None:
    big = isl.BasicMap("{ S[i] -> T[j] : j = 3000000000 i and 0 <= i <= 3000000000 }")
    assert farkas.generators(big) is None
    small = isl.BasicMap("{ S[i] -> T[j] : j = 3 i and 0 <= i <= 30 }")
    assert _same_cone(small)
