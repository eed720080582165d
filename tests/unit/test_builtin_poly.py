"""The built-in cpp generator's loop-nest path: products and convolutions lowered to the PolyTOPS
DSL, scheduled under a config, compiled and compared with the task's own Model."""

from __future__ import annotations

import types

import pytest
import torch

from akg_agents.builtin.generator import generate
from akg_agents.builtin.lower import NotCovered
from akg_agents.builtin.poly_cpp import (
    PARAM_SPACE,
    NoProduct,
    PolyParams,
    params_from_dict,
    poly_candidate_code,
    poly_variants,
)
from akg_agents.poly.config import ConfigError
from akg_agents.records import Task

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def _task(name: str, model: str, inputs: str, init: str = "[]") -> Task:
    source = f"{HEADER}\n{model}\n\ndef get_inputs():\n    return {inputs}\n\ndef get_init_inputs():\n    return {init}\n"
    return Task(name=name, source=source)


def _run(task: Task, code: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidate's output and the task Model's output on the task's inputs."""
    reference = types.ModuleType("reference")
    exec(compile(task.source, "<task>", "exec"), reference.__dict__)
    candidate = types.ModuleType("candidate")
    exec(compile(code, "<candidate>", "exec"), candidate.__dict__)
    torch.manual_seed(1)
    inputs = reference.get_inputs()
    torch.manual_seed(0)
    model = reference.Model(*reference.get_init_inputs()).eval()
    torch.manual_seed(0)
    new = candidate.ModelNew(*reference.get_init_inputs()).eval()
    with torch.no_grad():
        return new(*inputs), model(*inputs)


def _check(task: Task, params: PolyParams | None = None) -> str:
    code = poly_candidate_code(task, params or PolyParams(threads=2))
    got, want = _run(task, code)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
    return code


LINEAR_RELU = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(24, 40)
    def forward(self, x):
        return torch.relu(self.fc(x))
"""
MLP = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 48)
        self.fc2 = nn.Linear(48, 32)
    def forward(self, x):
        return x + self.fc2(F.gelu(self.fc1(x)))
"""
MATMUL = """
class Model(nn.Module):
    def forward(self, a, b):
        return torch.matmul(a, b) * 0.5
"""
BMM = """
class Model(nn.Module):
    def forward(self, a, b):
        return torch.bmm(a, b)
"""
CONV = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, stride=STRIDE, padding=PAD, dilation=DIL, groups=GROUPS)
    def forward(self, x):
        return torch.relu(self.conv(x))
"""


def test_linear_bias_relu_writes_its_epilogue_in_place() -> None:
    task = _task("lin", LINEAR_RELU, "[torch.randn(3, 5, 24)]")
    code = _check(task, PolyParams(threads=2, pack=False))
    assert "torch.empty((3, 5, 40)" in code and "_s0" not in code  # one array: the output
    packed = _check(task, PolyParams(threads=2, pack=True))
    assert "_s0 = torch.empty((24, 40)" in packed and "_s1" not in packed  # W^T, then in place


def test_mlp_keeps_its_hidden_layer_in_one_scratch_array() -> None:
    code = _check(_task("mlp", MLP, "[torch.randn(16, 32)]"), PolyParams(threads=2, pack=False))
    assert "_s0 = torch.empty((16, 48)" in code and "_s1" not in code


@pytest.mark.parametrize("shapes", ["[torch.randn(20, 36), torch.randn(36, 28)]",
                                    "[torch.randn(3, 20, 36), torch.randn(36, 28)]",
                                    "[torch.randn(2, 1, 9, 12), torch.randn(3, 12, 7)]"])
def test_matmul_with_broadcast_batch_dims(shapes: str) -> None:
    _check(_task("mm", MATMUL, shapes))


def test_other_shapes_are_refused_not_read_out_of_bounds() -> None:
    task = _task("bmm", BMM, "[torch.randn(4, 10, 12), torch.randn(4, 12, 9)]")
    candidate = types.ModuleType("candidate")
    exec(compile(poly_candidate_code(task, PolyParams()), "<candidate>", "exec"), candidate.__dict__)
    model = candidate.ModelNew()
    with pytest.raises(ValueError, match="generated for float32 tensors of shapes"):
        model(torch.randn(4, 10, 13), torch.randn(4, 13, 9))
    with pytest.raises(ValueError, match="generated for"):
        model(torch.randn(4, 10, 12, dtype=torch.float64), torch.randn(4, 12, 9, dtype=torch.float64))


def test_bmm() -> None:
    _check(_task("bmm", BMM, "[torch.randn(4, 10, 12), torch.randn(4, 12, 9)]"))


@pytest.mark.parametrize(("stride", "pad", "dil", "groups"), [(1, 1, 1, 1), (2, 0, 1, 1), (1, 2, 2, 2), (2, "'same'", 1, 1)])
def test_conv2d(stride: int, pad: object, dil: int, groups: int) -> None:
    model = CONV.replace("STRIDE", str(stride)).replace("PAD", str(pad)).replace("DIL", str(dil)).replace("GROUPS", str(groups))
    task = _task("conv", model, "[torch.randn(2, 4, 11, 10)]")
    if pad == "'same'":  # torch itself rejects padding='same' with a stride
        with pytest.raises(Exception, match="same"):
            _check(task)
        return
    _check(task)


def test_conv1d_functional() -> None:
    model = """
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(5, 3, 4))
    def forward(self, x):
        return F.conv1d(x, self.w, None, 2, 1)
"""
    _check(_task("conv1d", model, "[torch.randn(2, 3, 17)]"))


def test_product_read_twice_is_not_overwritten() -> None:
    model = """
class Model(nn.Module):
    def forward(self, a, b):
        c = a @ b
        return c @ torch.relu(c)
"""
    _check(_task("twice", model, "[torch.randn(12, 12), torch.randn(12, 12)]"))


@pytest.mark.parametrize("preset", PARAM_SPACE["preset"])
@pytest.mark.parametrize(("tile", "fusion", "relax"), [(0, "max", True), (16, "no", False), (16, "smart", True)])
def test_every_preset_and_tiling_is_correct(preset: str, tile: int, fusion: str, relax: bool) -> None:
    _check(_task("mlp", MLP, "[torch.randn(16, 32)]"), PolyParams(preset, tile, True, 2, fusion, relax))


@pytest.mark.parametrize("relax", [True, False])
def test_conv_with_relaxed_reductions(relax: bool) -> None:
    model = CONV.replace("STRIDE", "1").replace("PAD", "1").replace("DIL", "1").replace("GROUPS", "1")
    _check(_task("conv", model, "[torch.randn(2, 4, 11, 10)]"), PolyParams(threads=2, relax=relax, tile=4))


def test_candidates_carry_their_parameters() -> None:
    task = _task("lin", LINEAR_RELU, "[torch.randn(96, 24)]")  # > one tile: a parallel loop
    made = generate(task, "cpp", 5, threads=2)  # the product's two GEMMs (cpp_gemm.py), then loop nests
    assert [c.params["generator"] for c in made] == ["gemm"] * 2 + ["poly"] * 3
    candidates = made[2:]
    assert len({c.digest for c in candidates}) == 3
    assert candidates[0].params == {"generator": "poly", "preset": "cpu_vectorize", "tile": 32,
                                    "simd_reduction": True, "threads": 2, "fusion": "no", "relax": True, "pack": True}
    assert "num_threads(2)" in candidates[0].code
    assert poly_variants(0)[0] == PolyParams()


def test_params_from_a_search_are_validated() -> None:
    assert params_from_dict({"preset": "pluto_like", "tile": 64}) == PolyParams("pluto_like", 64)
    with pytest.raises(ConfigError, match="unknown preset"):
        params_from_dict({"preset": "fastest"})
    with pytest.raises(ConfigError, match="unknown loop-nest parameters"):
        params_from_dict({"tiles": 3})


def test_graph_without_a_product_is_left_to_the_row_program() -> None:
    model = """
class Model(nn.Module):
    def forward(self, x):
        return torch.argsort(x, dim=-1).float()
"""
    task = _task("argsort", model, "[torch.randn(4, 8)]")
    with pytest.raises(NoProduct):
        poly_candidate_code(task, PolyParams())
    with pytest.raises(NotCovered) as declined:  # the row lowering's own reason, not ours
        generate(task, "cpp", 1)
    assert not isinstance(declined.value, NoProduct)


def test_unsupported_op_after_a_product_is_named() -> None:
    model = """
class Model(nn.Module):
    def forward(self, a, b):
        return torch.softmax(a @ b, dim=-1)
"""
    with pytest.raises(NotCovered, match="softmax"):
        generate(_task("mmsoftmax", model, "[torch.randn(4, 8), torch.randn(8, 4)]"), "cpp", 1)
