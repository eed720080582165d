"""Tasks whose forward is one torch.nn.functional.scaled_dot_product_attention(Q, K, V) of its
inputs (KernelBench level 1, problem 97): Triton (flash-attention style) and C++ candidates
(kernel sources and their design in attention_kernels.py).

Covered: any rank >= 2 with equal leading (batch, head) dims, any L, S, E, Ev, the default scale
1/sqrt(E) (taken from the input in forward) or a constant `scale=`, `is_causal=True` (PyTorch's
top-left alignment). Declined with the reason: `attn_mask` (a tensor mask or bias is not
gathered), `dropout_p` > 0 (random: no deterministic reference to verify against),
`enable_gqa=True`, a scale or flag computed in forward, other operations in forward. A candidate refuses another
rank, dtype, or Q/K/V whose leading dims differ (PyTorch broadcasts them; the kernel does not)
in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.fx
import torch.nn.functional as F

from akg_agents.builtin.attention_kernels import TRITON_ATTENTION, TRITON_ATTENTION_TWO_PASS, cpp_attention
from akg_agents.builtin.generator import EMBEDDED_MODEL, embedded_task_source, future_imports
from akg_agents.builtin.layer_task import DTYPES
from akg_agents.builtin.lower import NotCovered
from akg_agents.records import Candidate, Task

SDPA_PARAMS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")
SDPA_DEFAULTS: dict[str, Any] = {"attn_mask": None, "dropout_p": 0.0, "is_causal": False, "scale": None, "enable_gqa": False}


@dataclass
class AttentionTask:
    """forward(*args) = scaled_dot_product_attention(args[q], args[k], args[v], ...)."""

    args: list[str]  # forward's parameter names
    q: int
    k: int
    v: int
    is_causal: bool
    scale: float | None
    rank: int
    dtype: str
    shapes: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def _placeholder(arg: Any) -> Any:
    while isinstance(arg, torch.fx.Node) and arg.op == "call_method" and arg.target == "contiguous":
        arg = arg.args[0]
    return arg


def find_attention(traced: torch.fx.GraphModule, inputs: list[Any]) -> AttentionTask | None:
    """The attention call when forward (traced) is exactly one scaled_dot_product_attention of
    its tensor inputs; None when there is none; NotCovered when there is, with an option or a
    structure not implemented."""
    nodes = [n for n in traced.graph.nodes if not (n.op == "call_method" and n.target == "contiguous")]
    calls = [n for n in nodes if n.op == "call_function" and n.target is F.scaled_dot_product_attention]
    if not calls:
        return None
    placeholders = [n for n in nodes if n.op == "placeholder"]
    bound = dict(zip(SDPA_PARAMS, calls[0].args, strict=False))
    bound.update(calls[0].kwargs)
    _check_options({name: bound.get(name, default) for name, default in SDPA_DEFAULTS.items()})
    rest = nodes[len(placeholders):]
    if ([n.op for n in rest] != ["call_function", "output"] or rest[0] is not calls[0]
            or _placeholder(rest[1].args[0]) is not rest[0] or len(placeholders) != len(inputs)):
        raise NotCovered("scaled_dot_product_attention with other operations in forward "
                         "(covered: forward returns the attention of its inputs)")
    options = {name: bound.get(name, default) for name, default in SDPA_DEFAULTS.items()}
    positions = {}
    for name in ("query", "key", "value"):
        arg = _placeholder(bound.get(name))
        if arg not in placeholders:
            raise NotCovered(f"scaled_dot_product_attention whose {name} is computed in forward (covered: forward's own inputs)")
        positions[name] = placeholders.index(arg)
    tensors = [inputs[positions[n]] for n in ("query", "key", "value")]
    if not all(isinstance(t, torch.Tensor) for t in tensors):
        return None
    q, k, v = tensors
    if q.dtype not in DTYPES or k.dtype != q.dtype or v.dtype != q.dtype:
        raise NotCovered(f"scaled_dot_product_attention on {q.dtype}/{k.dtype}/{v.dtype} (covered: one of float32, float16, bfloat16)")
    if q.dim() < 2 or k.dim() != q.dim() or v.dim() != q.dim() or not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2]):
        raise NotCovered(f"scaled_dot_product_attention of shapes {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)} "
                         "(covered: one rank >= 2 and equal batch dims, no broadcasting)")
    return AttentionTask([str(p.target) for p in placeholders], positions["query"], positions["key"], positions["value"],
                         bool(options["is_causal"]), None if options["scale"] is None else float(options["scale"]),
                         q.dim(), DTYPES[q.dtype], (tuple(q.shape), tuple(k.shape), tuple(v.shape)))


def _check_options(options: dict[str, Any]) -> None:
    if options["attn_mask"] is not None:
        raise NotCovered("scaled_dot_product_attention with attn_mask (covered: no mask, or is_causal=True)")
    computed = [name for name, value in options.items() if isinstance(value, torch.fx.Node)]
    if computed:
        raise NotCovered(f"scaled_dot_product_attention with {', '.join(computed)} computed in forward (covered: constants)")
    if float(options["dropout_p"]) != 0.0:
        raise NotCovered("scaled_dot_product_attention with dropout_p > 0 (random, so no reference to verify against)")
    if options["enable_gqa"]:
        raise NotCovered("scaled_dot_product_attention with enable_gqa=True (covered: as many K/V heads as Q heads)")
    if not isinstance(options["is_causal"], bool) or not (options["scale"] is None or isinstance(options["scale"], (int, float))):
        raise NotCovered("scaled_dot_product_attention with is_causal or scale not a constant bool / number")


def _guard(att: AttentionTask, dtypes: tuple[str, ...]) -> str:
    """forward's lines: Q/K/V contiguous as q, k, v, refused (one line) off the specialization
    (rank, equal leading dims, matching E and S, one dtype among `dtypes`), then the extents,
    the batch-head count and the scale."""
    names = [att.args[att.q], att.args[att.k], att.args[att.v]]
    allowed = ", ".join(f"torch.{d}" for d in dtypes)
    scale = "1.0 / math.sqrt(E) if E else 1.0" if att.scale is None else repr(att.scale)
    return f"""        q, k, v = {names[0]}.contiguous(), {names[1]}.contiguous(), {names[2]}.contiguous()
        if (q.dim() != {att.rank} or k.dim() != {att.rank} or v.dim() != {att.rank} or not (q.shape[:-2] == k.shape[:-2] == v.shape[:-2])
                or k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2] or not (q.dtype == k.dtype == v.dtype)
                or q.dtype not in ({allowed},)):
            raise ValueError(f"this kernel was generated for scaled_dot_product_attention of rank-{att.rank} {' or '.join(dtypes)} Q (..., L, E), K (..., S, E), V (..., S, Ev) with equal leading dims; got {{tuple(q.shape)}}, {{tuple(k.shape)}}, {{tuple(v.shape)}} {{q.dtype}}, {{k.dtype}}, {{v.dtype}}")
        L, E = q.shape[-2], q.shape[-1]
        S, EV = v.shape[-2], v.shape[-1]
        bh = math.prod(q.shape[:-2])
        scale = {scale}"""


def attention_model_new(task: Task, att: AttentionTask, imports: str, kernel_block: str, body: str, label: str) -> str:
    return f'''{future_imports(task)}import math

import torch
import torch.nn as nn
{imports}

# ---- The task's Model, embedded so that ModelNew accepts its constructor arguments.
{embedded_task_source(task)}
# ---- end of the task's Model.

{kernel_block}


class ModelNew(nn.Module):
    """Generated by akg_agents' built-in generator{label}."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        {EMBEDDED_MODEL}(*args, **kwargs)  # built for its checks of the arguments only: attention has no parameters

    def forward(self, {", ".join(att.args)}):
{body}
        return out
'''


def _next_pow2(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def triton_variants(att: AttentionTask) -> list[dict[str, Any]]:
    """Tiles from the traced head dims (any extent stays correct: the kernels mask): the head
    dim chunk BLOCK_D up to 64 (128 when it then holds E whole), Ev slices up to 128 or 256.
    Flash first; the two-kernel form first when Ev > 256 (a flash program per Ev slice would
    recompute Q K^T Ev / BLOCK_DV times)."""
    e, ev = att.shapes[0][-1], att.shapes[2][-1]
    block_d = min(max(_next_pow2(e), 16), 128 if e <= 128 else 64)
    dv = max(_next_pow2(ev), 16)
    precisions = ["tf32x3", "ieee"] if att.dtype == "float32" else ["tf32"]
    flash = [dict(kind="flash", tile=list(t), precision=p) for p in precisions
             for t in ((64, 64, block_d, min(dv, 128), 4, 2), (128, 64, block_d, min(dv, 128), 8, 2),
                       (64, 32, block_d, min(dv, 256), 8, 2))]
    # (probs: BLOCK_M, BLOCK_N, BLOCK_D, warps, stages; pv: BLOCK_M, BLOCK_N, BLOCK_K, warps, stages)
    pv = (128, 64, 32, 4, 3) if att.dtype == "float32" else (128, 128, 32, 8, 3)
    two_pass = [dict(kind="two_pass", probs=[64, 64, block_d, 4, 2], pv=list(pv), precision=p) for p in precisions]
    if ev > 256:  # also larger tiles: twice the products per byte loaded for the scores
        wide = dict(kind="two_pass", probs=[128, 64, min(block_d, 32), 8, 2], pv=[128, 128, 32, 8, 2],
                    precision=precisions[0])
        # A flash kernel second, so that --max-candidates 2 races two different kernels: neither
        # form had run on a GPU when this order was set (the interpreter checked both).
        return [two_pass[0], flash[0], wide, *flash[1:3], *two_pass[1:], *flash[3:]]
    return [*flash[:3], two_pass[0], *flash[3:], *two_pass[1:]]


def _triton_body(att: AttentionTask, params: dict[str, Any]) -> str:
    head = _guard(att, (att.dtype,)) + """
        out = torch.empty((*q.shape[:-1], EV), dtype=q.dtype, device=q.device)
        if out.numel():"""
    causal, precision = att.is_causal, repr(params["precision"])
    if params["kind"] == "two_pass":
        bm, bn, bd, warps, stages = params["probs"]
        pm, pn, pk, pwarps, pstages = params["pv"]
        return head + f"""
            probs = torch.empty((bh, L, S), dtype=torch.float32, device=q.device)  # softmax(Q K^T * scale)
            m_tiles = triton.cdiv(L, {bm})
            akg_attention_probs[(bh * m_tiles,)](
                q, k, probs, L, S, E, scale * 1.4426950408889634, m_tiles,
                IS_CAUSAL={causal}, Q_ONCE=E <= {bd}, PRECISION={precision},
                BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_D={bd}, num_warps={warps}, num_stages={stages})
            m_tiles, n_tiles = triton.cdiv(L, {pm}), triton.cdiv(EV, {pn})
            akg_attention_pv[(bh * m_tiles * n_tiles,)](
                probs, v, out, L, S, EV, m_tiles, n_tiles, IS_CAUSAL={causal}, PRECISION={precision},
                BLOCK_M={pm}, BLOCK_N={pn}, BLOCK_K={pk}, num_warps={pwarps}, num_stages={pstages})"""
    bm, bn, bd, bdv, warps, stages = params["tile"]
    return head + f"""
            m_tiles, dv_tiles = triton.cdiv(L, {bm}), triton.cdiv(EV, {bdv})
            akg_attention[(bh * m_tiles * dv_tiles,)](
                q, k, v, out, L, S, E, EV, scale * 1.4426950408889634, m_tiles, dv_tiles,
                IS_CAUSAL={causal}, Q_ONCE=E <= {bd}, PRECISION={precision},
                BLOCK_M={bm}, BLOCK_N={bn}, BLOCK_D={bd}, BLOCK_DV={bdv}, num_warps={warps}, num_stages={stages})"""


def triton_attention_candidates(task: Task, att: AttentionTask, count: int) -> list[Candidate]:
    candidates = []
    for index, params in enumerate(triton_variants(att)[: max(count, 1)]):
        flash = params["kind"] == "flash"
        kernels = TRITON_ATTENTION if flash else TRITON_ATTENTION_TWO_PASS
        code = attention_model_new(task, att, "import triton\nimport triton.language as tl", kernels,
                                   _triton_body(att, params), " (Triton flash attention)" if flash else
                                   " (Triton attention: probabilities, then their product with V)")
        what = (f"flash attention, tile {params['tile'][:4]}" if flash else
                f"softmax(QK^T) to a scratch, then P @ V, tiles {params['probs'][:3]} / {params['pv'][:3]}")
        candidates.append(Candidate(id=f"builtin-triton-attention-{index}", dsl="triton_cuda", code=code, agent="builtin",
                                    step=index, params=params, note=f"Triton {what}, {params['precision']} products"))
    return candidates


def cpp_attention_candidates(task: Task, att: AttentionTask, count: int, threads: int) -> list[Candidate]:
    candidates = []
    for index, block in enumerate((32, 16, 64)[: max(count, 1)]):
        kernel = f'KERNEL_SOURCE = r"""\n{cpp_attention(threads, block)}"""\n\n_lib = load_cpp(KERNEL_SOURCE)'
        body = _guard(att, ("float32", "float16", "bfloat16")) + f"""
        dtype = q.dtype
        q, k, v = q.to(torch.float32), k.to(torch.float32), v.to(torch.float32)  # the kernel computes in fp32
        out = torch.empty((*q.shape[:-1], EV), dtype=torch.float32)
        if out.numel():
            _lib.akg_attention(q, k, v, out, bh, L, S, E, EV, float(scale), {int(att.is_causal)})
        out = out.to(dtype)"""
        code = attention_model_new(task, att, "from akg_agents.dsl.cpp_loader import load_cpp", kernel, body,
                                   " (C++ attention)")
        candidates.append(Candidate(id=f"builtin-cpp-attention-{index}", dsl="cpp", code=code, agent="builtin", step=index,
                                    params={"threads": threads, "block": block},
                                    note=f"C++/OpenMP attention, {block} query rows per job, 4 x 64 register tiles"))
    return candidates


def attention_candidates(task: Task, att: AttentionTask, dsl: str, count: int, threads: int = 0) -> list[Candidate]:
    if dsl == "triton_cuda":
        return triton_attention_candidates(task, att, count)
    if dsl == "cpp":
        return cpp_attention_candidates(task, att, count, threads)
    raise NotCovered(f"scaled_dot_product_attention in {dsl} (the built-in generator writes it in triton_cuda and cpp)")

