"""The packed GEMM candidates of the cpp generator (builtin/cpp_gemm.py), compiled and run: odd
extents (no multiple of the register or cache tiles, K = 1, one output column or row), transposed
operands, batched and folded products, bias / activation / residual epilogues, triu, fp16 / bf16,
other shapes of the same rank than the task was generated at, and the one-line refusals."""

from __future__ import annotations

import os

import pytest
import torch
from builtin_check import module_of

from akg_agents.builtin.cpp_gemm import GEMM_VARIANTS, gemm_candidates, race_with_gemm
from akg_agents.builtin.cpp_gemm_chain import chain_candidates
from akg_agents.builtin.generator import generate
from akg_agents.builtin.precision import tracing_precision
from akg_agents.records import Candidate, Task
from akg_agents.verify.compare import compare_tensor, tolerance_for


@pytest.fixture(autouse=True)
def _private_cpp_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AKG_AGENTS_CACHE", os.environ.get("AKG_AGENTS_CACHE") or str(tmp_path_factory.getbasetemp()))


def _task(forward: str, inputs: str, init: str = "", attrs: str = "") -> Task:
    source = f"""import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self{', ' + init if init else ''}):
        super().__init__()
{attrs or '        pass'}

    def forward(self, {inputs.split(':', 1)[0]}):
        return {forward}


def get_inputs():
    torch.manual_seed(3)
    return [{inputs.split(':', 1)[1]}]


def get_init_inputs():
    return [{init and '8, 13'}]
"""
    return Task("gemm_case", source)


def _check(task: Task, candidate: Candidate, inputs: list[torch.Tensor] | None = None,
           dtype: torch.dtype = torch.float32) -> None:
    ref = module_of(task.source, "ref")
    init = list(ref.get_init_inputs())
    torch.manual_seed(0)
    model = ref.Model(*init).to(dtype)
    torch.manual_seed(0)
    new = module_of(candidate.code, "cand").ModelNew(*init).to(dtype)
    values = [t.to(dtype) for t in (inputs if inputs is not None else ref.get_inputs())]
    with torch.no_grad():
        expected, actual = model(*values), new(*values)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    problem = compare_tensor(expected, actual, 0, 0, tolerance_for(expected.dtype))
    assert problem is None, f"{[tuple(v.shape) for v in values]}: {problem}"


def _gemm(task: Task, precision: str = "fp32") -> Candidate:
    with tracing_precision(precision):
        made, why = gemm_candidates(task, 1)
    assert made, why
    return made[0]


# (forward, "args: inputs", other input sets of the same ranks the kernel must also be right for)
PRODUCTS = {
    "odd": ("torch.matmul(a, b)", "a, b: torch.randn(37, 19), torch.randn(19, 45)",
            [(53, 300, 7), (1, 5, 9), (9, 1, 1), (64, 1, 33), (33, 64, 1), (16, 0, 8), (201, 300, 77)]),
    "a_t": ("a.T @ b", "a, b: torch.randn(19, 37), torch.randn(19, 45)", [(70, 257, 40), (5, 3, 1), (170, 257, 60)]),
    "b_t": ("torch.matmul(a, b.t())", "a, b: torch.randn(37, 19), torch.randn(45, 19)", [(70, 257, 40), (1, 3, 5)]),
    "both_t": ("a.T @ b.T", "a, b: torch.randn(19, 37), torch.randn(45, 19)", [(70, 257, 40), (40, 9, 1)]),
    "bmm": ("torch.bmm(a, b)", "a, b: torch.randn(3, 37, 19), torch.randn(3, 19, 45)", [(2, 50, 70, 33), (4, 9, 1, 5), (5, 70, 130, 41)]),
    "bmm_t": ("torch.bmm(a.transpose(1, 2), b.transpose(1, 2))",
              "a, b: torch.randn(3, 19, 37), torch.randn(3, 45, 19)", [(2, 50, 70, 33)]),
    "folded": ("torch.matmul(a, b)", "a, b: torch.randn(2, 21, 19), torch.randn(19, 45)", [(3, 30, 70, 33), (3, 100, 130, 97)]),
    "matvec": ("torch.matmul(a, b)", "a, b: torch.randn(67, 301), torch.randn(301, 1)", [(5, 4096, 1)]),
    "matvec_t": ("a.T @ b", "a, b: torch.randn(301, 67), torch.randn(301, 1)", [(700, 9, 1)]),
    "vecmat": ("torch.matmul(a, b)", "a, b: torch.randn(1, 301), torch.randn(301, 67)", [(1, 9, 700)]),
    "vecmat_t": ("torch.matmul(a, b.T)", "a, b: torch.randn(1, 301), torch.randn(67, 301)", [(1, 9, 700)]),
    "k1": ("torch.matmul(a, b)", "a, b: torch.randn(37, 1), torch.randn(1, 45)", []),
    "residual": ("torch.relu(torch.matmul(a, b) * 0.5 + c)",
                 "a, b, c: torch.randn(37, 19), torch.randn(19, 45), torch.randn(37, 45)", []),
    "triu": ("torch.triu(torch.matmul(a, b), diagonal=1)", "a, b: torch.randn(70, 19), torch.randn(19, 75)", [(40, 9, 33)]),
    "tril": ("torch.tril(torch.matmul(a, b))", "a, b: torch.randn(70, 19), torch.randn(19, 75)", [(33, 300, 40)]),
}


A_T = {"a_t", "both_t", "bmm_t", "matvec_t"}  # cases whose `a` is stored (K, M)
B_T = {"b_t", "both_t", "bmm_t", "vecmat_t"}  # cases whose `b` is stored (N, K)


def _inputs(name: str, dims: tuple[int, ...]) -> list[torch.Tensor]:
    """Operands of the case `name` for logical sizes (batch,) M, K, N."""
    *batch, m, k, n = dims
    a = torch.randn(*batch, k, m) if name in A_T else torch.randn(*batch, m, k)
    if name == "folded":
        return [a, torch.randn(k, n)]
    return [a, torch.randn(*batch, n, k) if name in B_T else torch.randn(*batch, k, n)]


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_products_match_torch_at_the_task_shape_and_others(name: str) -> None:
    forward, inputs, others = PRODUCTS[name]
    task = _task(forward, inputs)
    candidate = _gemm(task)
    assert candidate.id == "builtin-gemm-0" and "akg_kernel" in candidate.code
    _check(task, candidate)
    for dims in others:  # sizes are run-time arguments: other shapes of the same rank
        _check(task, candidate, _inputs(name, dims))


# Cases for every variant, operands read in place or packed: whole and edge register tiles in M
# and N (N = 77, 97, 150 hold a whole 64-column panel and an edge), batched, folded, an epilogue.
EVERY_VARIANT = {"odd": [(201, 300, 77)], "bmm": [(3, 70, 130, 150)], "folded": [(3, 100, 130, 97)],
                 "residual": [], "triu": [(70, 19, 150)], "b_t": [(70, 257, 150)], "a_t": [(70, 257, 150)]}


@pytest.mark.parametrize("name", sorted(EVERY_VARIANT))
def test_every_variant_reads_operands_in_place_or_packed(name: str) -> None:
    forward, inputs, _ = PRODUCTS[name]
    task = _task(forward, inputs)
    made, why = gemm_candidates(task, len(GEMM_VARIANTS))
    # B in place means nothing for a transposed B (and A in place for a transposed A): that variant
    # comes out the same as the packed one and is offered once.
    assert len(made) == len(GEMM_VARIANTS) - (name in B_T or name in A_T), why
    assert ("A_IN_PLACE = true" in made[0].code) == (name not in A_T)
    assert ("B_IN_PLACE = true" in made[0].code) == (name not in B_T)
    for candidate in made:  # the recorded parameters say what the code does
        assert candidate.params["a_in_place"] == ("A_IN_PLACE = true" in candidate.code)
        assert candidate.params["b_in_place"] == ("B_IN_PLACE = true" in candidate.code)
    for candidate in made:
        _check(task, candidate)
        for dims in EVERY_VARIANT[name]:
            _check(task, candidate, _inputs(name, dims))


def test_threads_sharing_lazily_packed_panels_agree_with_torch() -> None:
    """Big enough to run on every thread: tiles that share panels start together, so some threads
    find a panel being packed by another and pack a private copy; every call must be right."""
    task = _task("torch.matmul(a, b.T)", "a, b: torch.randn(37, 19), torch.randn(45, 19)")
    new = module_of(_gemm(task).code, "cand").ModelNew()
    torch.manual_seed(5)
    for _ in range(20):
        a, b = torch.randn(301, 520), torch.randn(263, 520)
        torch.testing.assert_close(new(a, b), a @ b.T, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("forward", ["torch.matmul(a, b)", "torch.relu(a.T @ b.T + 1.5)"])
def test_long_k_is_split_across_threads(forward: str) -> None:
    """K >= 4 max(M, N): K chunks into partial outputs, summed, then the epilogue."""
    transposed = "a.T" in forward
    task = _task(forward, f"a, b: torch.randn({'19, 37' if transposed else '37, 19'}), torch.randn({'45, 19' if transposed else '19, 45'})")
    new = module_of(_gemm(task).code, "cand").ModelNew()
    torch.manual_seed(6)
    for m, n, k in [(70, 45, 3001), (33, 1, 4000), (96, 64, 2048)]:
        a = torch.randn(k, m) if transposed else torch.randn(m, k)
        b = torch.randn(n, k) if transposed else torch.randn(k, n)
        expected = torch.relu(a.T @ b.T + 1.5) if transposed else a @ b
        torch.testing.assert_close(new(a, b), expected, rtol=1e-4, atol=2e-3)


def test_linear_bias_relu_and_every_variant() -> None:
    task = _task("torch.relu(self.linear(x))", "x: torch.randn(29, 8)", "i, o", "        self.linear = nn.Linear(i, o)")
    made, _ = gemm_candidates(task, 4)
    assert [c.id for c in made] == [f"builtin-gemm-{i}" for i in range(4)]
    for candidate in made:
        _check(task, candidate)
        _check(task, candidate, [torch.randn(301, 8)])


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precisions_compute_in_float32(precision: str) -> None:
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    task = _task("torch.relu(self.linear(x))", "x: torch.randn(29, 8)", "i, o", "        self.linear = nn.Linear(i, o)")
    candidate = _gemm(task, precision)
    assert ".float().contiguous()" in candidate.code
    _check(task, candidate, dtype=dtype)
    _check(task, candidate, [torch.randn(77, 8)], dtype=dtype)
    new = module_of(candidate.code, "cand").ModelNew(8, 13).to(dtype)
    with pytest.raises(ValueError, match=f"generated for {dtype}".replace("torch.", "")):
        new(torch.randn(5, 8))


def test_refusals_are_one_line() -> None:
    task = _task("torch.matmul(a, b) + c", "a, b, c: torch.randn(7, 5), torch.randn(5, 9), torch.randn(9)")
    new = module_of(_gemm(task).code, "cand").ModelNew()
    ok = new(torch.randn(4, 5), torch.randn(5, 6), torch.randn(6))  # another shape: the bias follows N
    assert ok.shape == (4, 6)
    cases = [((torch.randn(2, 4, 5), torch.randn(5, 9), torch.randn(9)), "ranks 2 and 2"),
             ((torch.randn(4, 5), torch.randn(6, 9), torch.randn(9)), "matrix product of shapes"),
             ((torch.randn(4, 5), torch.randn(5, 9), torch.randn(8)), "one value per output column"),
             ((torch.randn(4, 5).double(), torch.randn(5, 9).double(), torch.randn(9).double()), "generated for float32")]
    for args, message in cases:
        with pytest.raises(ValueError, match=message) as info:
            new(*args)
        assert "\n" not in str(info.value)


def test_declined_products_are_left_to_the_loop_nests() -> None:
    three = _task("self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))", "x: torch.randn(9, 8)", "d, h",
                  "        self.fc1 = nn.Linear(d, h)\n        self.fc2 = nn.Linear(h, h)\n        self.fc3 = nn.Linear(h, d)")
    made, why = gemm_candidates(three, 2)
    assert made == [] and "a second matrix product" in why
    chain, why = chain_candidates(three, 2)
    assert chain == [] and "3 matrix products" in why
    assert [c.id for c in generate(three, "cpp", 2)] == ["builtin-poly-0", "builtin-poly-1"]
    plain = _task("torch.matmul(a, b)", "a, b: torch.randn(7, 5), torch.randn(5, 9)")
    ids = [c.id for c in generate(plain, "cpp", 4)]
    assert ids == ["builtin-gemm-0", "builtin-gemm-1", "builtin-poly-0", "builtin-poly-1"]


MLP = ("x + self.fc2(torch.nn.functional.gelu(self.fc1(x)))", "x: torch.randn(37, 8)", "d, h",
       "        self.fc1 = nn.Linear(d, h)\n        self.fc2 = nn.Linear(h, d)")


def test_a_chain_of_two_products_runs_as_two_gemms() -> None:
    task = _task(*MLP)
    ids = [c.id for c in generate(task, "cpp", 3)]
    assert ids == ["builtin-gemm-chain-0", "builtin-gemm-chain-1", "builtin-poly-0"]
    made, why = chain_candidates(task, 2)
    for candidate in made:
        _check(task, candidate)
        _check(task, candidate, [torch.randn(301, 8)])  # other rows: the scratch follows
    new = module_of(made[0].code, "cand").ModelNew(8, 13)
    with pytest.raises(ValueError, match="ranks 2 and 2"):
        new(torch.randn(2, 3, 8))
    nested = _task("torch.matmul(torch.matmul(a, b) * 0.5, c) - 1.0",
                   "a, b, c: torch.randn(37, 19), torch.randn(19, 45), torch.randn(45, 23)")
    made, why = chain_candidates(nested, 1)
    assert made, why
    _check(nested, made[0])
    _check(nested, made[0], [torch.randn(130, 300), torch.randn(300, 70), torch.randn(70, 9)])


def test_a_chain_in_half_precision_is_left_to_the_loop_nests() -> None:
    with tracing_precision("bf16"):
        made, why = chain_candidates(_task(*MLP), 1)
    assert made == [] and "bfloat16" in why


def test_a_search_over_loop_nest_points_gets_the_loop_nest() -> None:
    from akg_agents.builtin.poly_cpp import ONLY, PolyParams, poly_candidates

    plain = _task("torch.matmul(a, b)", "a, b: torch.randn(7, 5), torch.randn(5, 9)")
    token = ONLY.set((PolyParams(tile=16),))
    try:
        made = race_with_gemm(plain, 1, 0, poly_candidates)
    finally:
        ONLY.reset(token)
    assert [c.params.get("generator") for c in made] == ["poly"] and made[0].params["tile"] == 16
