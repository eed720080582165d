"""KernelBench-style scaled_dot_product_attention tasks for the built-in attention tests (C++ and
Triton): odd extents, L != S, E != Ev, ranks 2 to 5, each with other shapes of its rank in
get_inputs_dyn_list (run by builtin_check.check_candidate)."""

from __future__ import annotations

from akg_agents.records import Task

ATTENTION_TASK = '''
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward({args}):
        return F.scaled_dot_product_attention({call})


def get_inputs():
    return [{inputs}]


def get_inputs_dyn_list():
    return [{dyn}]


def get_init_inputs():
    return []
'''


def _tensors(shapes: list[tuple[int, ...]]) -> str:
    return ", ".join(f"torch.randn{shape}" for shape in shapes)


def attention_task(name: str, shapes: list[tuple[int, ...]], dyn: list[list[tuple[int, ...]]], options: str = "",
                   args: str = "self, q, k, v", call: str = "q, k, v") -> Task:
    """forward({args}) = F.scaled_dot_product_attention({call}{options}); inputs of `shapes`."""
    source = ATTENTION_TASK.format(args=args, call=call + options, inputs=_tensors(shapes),
                                   dyn=", ".join(f"[{_tensors(s)}]" for s in dyn))
    return Task(name, source)


# name -> (shapes, other shapes of the same rank, options)
CASES: dict[str, tuple[list[tuple[int, ...]], list[list[tuple[int, ...]]], str]] = {
    "plain": ([(2, 3, 37, 21)] * 3, [[(1, 2, 70, 80), (1, 2, 45, 80), (1, 2, 45, 33)], [(1, 1, 1, 5)] * 3], ""),
    "causal_l_gt_s": ([(2, 2, 29, 19), (2, 2, 13, 19), (2, 2, 13, 7)], [[(1, 3, 9, 5), (1, 3, 40, 5), (1, 3, 40, 3)],
                                                                   [(1, 1, 100, 4), (1, 1, 90, 4), (1, 1, 90, 5)]],
                      ", is_causal=True"),
    "scaled_rank3": ([(3, 17, 9), (3, 23, 9), (3, 23, 11)], [[(2, 5, 40), (2, 66, 40), (2, 66, 40)]], ", scale=0.3"),
    "rank2_causal": ([(13, 6), (9, 6), (9, 4)], [[(3, 17), (40, 17), (40, 2)]], ", is_causal=True"),
    "rank5": ([(2, 2, 2, 11, 8)] * 3, [[(1, 3, 1, 7, 16), (1, 3, 1, 5, 16), (1, 3, 1, 5, 9)]], ""),
}


def case_task(name: str) -> Task:
    shapes, dyn, options = CASES[name]
    return attention_task(name, shapes, dyn, options)
