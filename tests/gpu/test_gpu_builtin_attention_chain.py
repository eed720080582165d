"""The built-in Triton flash attention (KernelBench 97) and layer chains (86, depthwise-separable
convolution) on a real GPU.

1. Every attention variant (flash tiles; probabilities then P @ V), compiled, against a float64 reference on the GPU: odd extents,
   L != S, E != Ev (E = 1024 walked in chunks, Ev split across programs), causal, a constant
   scale, fp32 (3xTF32 and exact products), fp16 and bf16 (bf16 is not checked on the CPU: the
   Triton interpreter's bf16 dot is wrong).
   The same for every KernelBench 86 candidate, fused depthwise + pointwise kernel included.
2. Through the verifier at KernelBench's published sizes (97 in fp32 / fp16 / bf16, 86 in fp32):
   every candidate (AKG_FAMILY_COUNT, default all) must pass; per candidate it prints status,
   candidate / eager medians and the speedup, and with AKG_CHAIN_JSON set writes them as JSON."""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import types
from pathlib import Path
from typing import Any

import pytest
import torch
from kb_gpu import gpu_verifier, kernelbench_task

from akg_agents.builtin.generator import generate
from akg_agents.records import Task
from akg_agents.verify.evaluate import Verifier

pytestmark = pytest.mark.gpu
COUNT = int(os.environ.get("AKG_FAMILY_COUNT", "9"))
RESULTS: list[dict[str, Any]] = []
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

SDPA_TASK = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def forward(self, q, k, v):
        return F.scaled_dot_product_attention(q, k, v{options})


def get_inputs():
    return [torch.randn(2, 3, 37, 21), torch.randn(2, 3, 37, 21), torch.randn(2, 3, 37, {ev})]


def get_init_inputs():
    return []
'''
SHAPES = [  # Q, K, V
    ((2, 3, 37, 21), (2, 3, 37, 21), (2, 3, 37, 21)),
    ((1, 2, 300, 1024), (1, 2, 257, 1024), (1, 2, 257, 1024)),  # KernelBench's head dim
    ((3, 129, 64), (3, 70, 64), (3, 70, 200)),
    ((1, 4, 1, 128), (1, 4, 513, 128), (1, 4, 513, 128)),
]


def _load(code: str) -> types.ModuleType:
    """Triton's @jit reads a kernel's source from its file (compiled, not interpreted): the module
    is written out and compiled from that path, one file per source."""
    folder = Path(tempfile.gettempdir()) / "akg_gpu_test_modules"
    folder.mkdir(exist_ok=True)
    path = folder / f"candidate_{hashlib.sha256(code.encode()).hexdigest()[:16]}.py"
    path.write_text(code)
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    exec(compile(code, str(path), "exec"), module.__dict__)
    return module


def _reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, scale: float | None) -> torch.Tensor:
    q64, k64, v64 = q.double(), k.double(), v.double()
    scores = q64 @ k64.transpose(-1, -2) * (scale if scale is not None else 1.0 / math.sqrt(q.shape[-1]))
    if causal:
        keep = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores, -1) @ v64


@pytest.mark.parametrize("traced_ev", [21, 300])  # 300: the two-kernel variants first, a wider tile among them
@pytest.mark.parametrize("precision", sorted(PRECISIONS))
@pytest.mark.parametrize(("options", "causal", "scale"), [("", False, None), (", is_causal=True", True, None),
                                                          (", scale=0.05", False, 0.05)])
def test_attention_variants_against_float64(precision: str, options: str, causal: bool, scale: float | None,
                                            traced_ev: int) -> None:
    dtype = PRECISIONS[precision]
    task = Task("sdpa", SDPA_TASK.format(options=options, ev=traced_ev))
    for candidate in generate(task, "triton_cuda", 9, precision=precision):
        model = _load(candidate.code).ModelNew()
        for shapes in SHAPES:
            if len(shapes[0]) != 4:
                continue  # the candidate is specialized to rank 4 (its guard refuses rank 3)
            torch.manual_seed(0)
            q, k, v = (torch.randn(s, device="cuda").to(dtype) for s in shapes)
            got = model(q, k, v)
            torch.cuda.synchronize()
            want = _reference(q, k, v, causal, scale)
            err = float((got.double() - want).abs().max())
            bound = (2e-4 if dtype == torch.float32 else 2e-2) * max(float(want.abs().max()), 1.0)
            assert err <= bound, f"{candidate.id} {candidate.params} {shapes}: max error {err} > {bound}"


def test_attention_rank3_and_guard() -> None:
    task = Task("sdpa3", SDPA_TASK.format(options="", ev=21).replace("torch.randn(2, 3, 37, 21)", "torch.randn(3, 37, 21)"))
    model = _load(generate(task, "triton_cuda", 1)[0].code).ModelNew()
    q, k, v = (torch.randn(s, device="cuda") for s in SHAPES[2])
    assert float((model(q, k, v).double() - _reference(q, k, v, False, None)).abs().max()) < 1e-3
    with pytest.raises(ValueError, match="rank-3 float32"):
        model(q.half(), k.half(), v.half())


@pytest.mark.parametrize("precision", sorted(PRECISIONS))
def test_chain_86_candidates_against_float64(precision: str) -> None:
    """Every 86 candidate (per layer, and the fused depthwise + pointwise kernel) compiled, at odd
    sizes with several channel chunks and N tiles, in each precision (weights cast too)."""
    dtype = PRECISIONS[precision]
    task = kernelbench_task("86", {"batch_size": 3, "in_channels": 70, "out_channels": 130, "height": 37, "width": 53}, "float32")
    ref = _load(task.source)
    for candidate in generate(task, "triton_cuda", 8, precision=precision):
        torch.manual_seed(0)
        model = ref.Model(*ref.get_init_inputs()).cuda().double()
        torch.manual_seed(0)
        new = _load(candidate.code).ModelNew(*ref.get_init_inputs()).cuda().to(dtype)
        x = torch.rand(3, 70, 37, 53, device="cuda").to(dtype)
        with torch.no_grad():
            got, want = new(x), model(x.double())
        err = float((got.double() - want).abs().max())
        bound = (1e-4 if dtype == torch.float32 else 3e-2) * max(float(want.abs().max()), 1.0)
        assert err <= bound, f"{candidate.id} {candidate.params}: max error {err} > {bound}"



@pytest.fixture(scope="module")
def verifier(tmp_path_factory: pytest.TempPathFactory):
    yield from gpu_verifier(tmp_path_factory, "chain_cache", RESULTS, "AKG_CHAIN_JSON")


CASES: list[tuple[str, dict[str, int], str]] = [("97", {}, "float32"), ("97", {}, "float16"), ("97", {}, "bfloat16"), ("86", {}, "float32")]


@pytest.mark.parametrize(("problem", "sizes", "dtype"), CASES, ids=[f"{p}-{d}" for p, _, d in CASES])
def test_kernelbench_candidates_pass(verifier: Verifier, problem: str, sizes: dict[str, int], dtype: str) -> None:
    task = kernelbench_task(problem, sizes, dtype)
    failures = []
    for cand in generate(task, "triton_cuda", COUNT):
        result = verifier.evaluate(task, cand)
        row: dict[str, Any] = {"task": task.name, "candidate": cand.id, "params": cand.params, "status": result.status.value,
               "message": result.message}
        if result.profile is not None:
            p = result.profile
            row.update(candidate_ms=p.candidate.median_ms, eager_ms=p.eager.median_ms, speedup=p.speedup)
            print(f"{task.name[:40]:40s} {cand.id:30s} {result.status.value:8s} cand {p.candidate.median_ms:.4f} ms  "
                  f"eager {p.eager.median_ms:.4f} ms  speedup {p.speedup:.2f}x  {cand.params}", flush=True)
        else:
            print(f"{task.name[:40]:40s} {cand.id:30s} {result.status.value:8s} {result.message[:300]}", flush=True)
        RESULTS.append(row)
        if not result.ok:
            failures.append(f"{cand.id} {cand.params}: {result.status.value} {result.message[:300]}")
    assert not failures, failures
