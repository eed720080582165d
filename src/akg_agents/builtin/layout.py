"""Group the full tensor's dims into the row program's four index groups (see ir.Layout).

The reduced dims become columns and the kept dims rows. A group must be a run of consecutive
dims along which every input either varies or is broadcast as a whole, so that one stride per
group addresses each input; the runs are therefore split wherever an input's broadcast pattern
changes. At most two row runs and two column runs fit the four groups.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from akg_agents.builtin.ir import Layout


class LayoutError(Exception):
    """The dims do not fit four groups (the caller words the NotCovered reason)."""


def aligned_shape(shape: Sequence[int], rank: int) -> tuple[int, ...]:
    """`shape` as torch broadcasting aligns it against a rank-`rank` tensor (trailing dims)."""
    if len(shape) > rank:
        raise LayoutError(f"a tensor of shape {tuple(shape)} has more dims than the full tensor")
    return (1,) * (rank - len(shape)) + tuple(shape)


def varies_along(shape: Sequence[int], full: Sequence[int]) -> tuple[bool, ...]:
    """Per full dim: does a tensor of (aligned) `shape` have that dim (rather than broadcast it)?
    A size-1 dim of the full tensor counts as had when the tensor has it too, so it joins its
    neighbours' group instead of splitting them."""
    out = []
    for n, f in zip(shape, full, strict=False):
        if n != f and n != 1:
            raise LayoutError(f"shape {tuple(shape)} does not broadcast against {tuple(full)}")
        out.append(n == f)
    return tuple(out)


def build_layout(full: Sequence[int], reduced: set[int], patterns: list[tuple[bool, ...]]) -> Layout:
    """The grouping for a full tensor of shape `full`, reducing `reduced` (empty: a pointwise
    program, whose innermost run takes the column role), with inputs varying as `patterns`."""
    runs: list[tuple[tuple[bool, tuple[bool, ...]], list[int]]] = []  # (key, dims)
    for d in range(len(full)):
        key = (d in reduced, tuple(p[d] for p in patterns))
        if runs and runs[-1][0] == key:
            runs[-1][1].append(d)
        else:
            runs.append((key, [d]))
    roles = [key[0] for key, _ in runs]
    if not reduced and runs:
        roles[-1] = True  # pointwise: the innermost run is walked as columns
    row_runs = [dims for role, (_, dims) in zip(roles, runs, strict=False) if not role]
    col_runs = [dims for role, (_, dims) in zip(roles, runs, strict=False) if role]
    if len(row_runs) > 2 or len(col_runs) > 2:
        raise LayoutError(
            f"the kept dims form {len(row_runs)} runs and the reduced dims {len(col_runs)} "
            "(interleaved, or broadcast differently by the inputs); at most two of each are covered")
    ro = tuple(row_runs[0]) if row_runs else ()
    ri = tuple(row_runs[1]) if len(row_runs) > 1 else ()
    co = tuple(col_runs[0]) if len(col_runs) > 1 else ()
    ci = tuple(col_runs[-1]) if col_runs else ()
    return Layout(len(full), (ro, ri, co, ci))


def group_varies(layout: Layout, pattern: tuple[bool, ...]) -> tuple[bool, bool, bool, bool]:
    """Per group: does the input vary along it (the same along every dim of the group)?"""
    flags = []
    for dims in layout.groups:
        values = {pattern[d] for d in dims}
        if len(values) > 1:
            raise LayoutError("an input varies along part of a group")
        flags.append(bool(values and values.pop()))
    return (flags[0], flags[1], flags[2], flags[3])


def kind_of(varies: tuple[bool, bool, bool, bool], layout: Layout) -> str:
    """full / row / col / scalar (ir.py). With a single row (every dim reduced, or a pointwise
    program of one run of dims) a value varying along the columns is a full one."""
    single_row = not layout.groups[0] and not layout.groups[1]
    by_col = varies[2] or varies[3]
    by_row = varies[0] or varies[1] or (single_row and by_col)
    return {(True, True): "full", (True, False): "row", (False, True): "col", (False, False): "scalar"}[(by_row, by_col)]


def group_sizes(layout: Layout, shape: Sequence[int]) -> tuple[int, int, int, int]:
    sizes = [math.prod(shape[d] for d in dims) for dims in layout.groups]
    return (sizes[0], sizes[1], sizes[2], sizes[3])
