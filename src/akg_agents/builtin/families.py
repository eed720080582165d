"""Dispatch for the built-in generators of one-layer tasks (pooling, convolution) and of tasks
with number inputs: called by generator.generate before the DSL's row / matmul generator;
None when the task is neither."""

from __future__ import annotations

import types
from typing import Any

from akg_agents.builtin.layer_task import CONVS, POOLS, find_layer_task, task_inputs
from akg_agents.records import Candidate, Task


def layer_candidates(task: Task, dsl: str, count: int, threads: int = 0) -> list[Candidate] | None:
    from akg_agents.builtin.number_inputs import as_tensor_task, number_input_candidates, number_positions

    module, inputs = task_inputs(task)
    numbers = number_positions(inputs)
    if numbers is not None:  # forward(A, s: float): generated with s as a 0-d tensor
        from akg_agents.builtin.generator import generate
        from akg_agents.builtin.precision import PRECISIONS, current_precision

        precision = current_precision()
        dtype = str(PRECISIONS[precision]).removeprefix("torch.")
        return number_input_candidates(generate(as_tensor_task(task), dsl, count, threads, precision), numbers, dtype)
    layer = find_layer_task(module, inputs)
    if layer is None:
        return _chain_or_attention(task, module, inputs, dsl, count, threads)
    if type(layer.layer) in POOLS:
        from akg_agents.builtin.pool import cpp_pool_candidates, triton_pool_candidates

        if dsl == "triton_cuda":
            return triton_pool_candidates(task, layer, count)
        if dsl == "cpp":
            return cpp_pool_candidates(task, layer, count, threads)
    if type(layer.layer) in CONVS and dsl == "triton_cuda":
        from akg_agents.builtin.conv_triton import triton_conv_candidates

        return triton_conv_candidates(task, layer, count)
    if type(layer.layer) in CONVS and dsl == "cpp":
        from akg_agents.builtin.conv_cpp import cpp_conv_transpose_candidates, strided_transposed
        from akg_agents.builtin.lower import NotCovered

        if strided_transposed(layer):  # PolyTOPS first where it schedules the scatter, the gather form beside it
            from akg_agents.builtin.poly_cpp import poly_candidates

            gather = cpp_conv_transpose_candidates(task, layer, threads)
            try:
                return [*poly_candidates(task, max(count - 1, 1), threads), *gather][: max(count, 1)]
            except NotCovered:
                return gather
        if not CONVS[type(layer.layer)][0]:  # implicit-im2col GEMMs first, the loop nests after them
            from akg_agents.builtin.conv_gemm_cpp import race_with_conv_gemm
            from akg_agents.builtin.poly_cpp import poly_candidates

            return race_with_conv_gemm(task, layer, count, threads, poly_candidates)
    return None  # a convolution on the CPU: the cpp / PolyTOPS path decides


def _chain_or_attention(task: Task, module: types.ModuleType, inputs: list[Any], dsl: str, count: int,
                        threads: int) -> list[Candidate] | None:
    """scaled_dot_product_attention (attention.py); a chain of convolution / pooling layers
    (conv_chain.py: on the CPU only pooling chains, the cpp / PolyTOPS path takes convolutions)."""
    from akg_agents.builtin.attention import attention_candidates, find_attention
    from akg_agents.builtin.conv_chain import find_layer_chain, layer_chain_candidates, traced_task_model

    traced = traced_task_model(module)
    if traced is None:
        return None
    attention = find_attention(traced, inputs)
    if attention is not None:
        return attention_candidates(task, attention, dsl, count, threads)
    chain = find_layer_chain(traced, inputs)
    if chain is None or dsl not in ("triton_cuda", "cpp"):
        return None
    return layer_chain_candidates(task, chain, dsl, count, threads)
