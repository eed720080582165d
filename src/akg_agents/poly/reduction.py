"""Vectorizable reductions: ``X op= e`` innermost loops emitted as ``omp simd reduction``.

A sequential innermost loop whose body is one statement accumulating into a location
that does not move with the loop (``q[i] += A[i][j] * p[j]`` under a ``j`` loop) carries
only that statement's own chain of updates.  gcc will not vectorize such a chain,
because doing so reassociates floating-point additions.  With ``simd_reduction: true``
the loop becomes

    { double _r = 0.0;
      #pragma omp simd reduction(+:_r)
      for (...) _r += <e>;
      X += _r; }

This is the one transformation here that changes the order of floating-point
operations (each element's sum is reassociated); the result is still checked against
the original order within the runner's tolerance.  It is off in the isl/Pluto-like
presets, which mimic tools that never reassociate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import islpy as isl

from .dsl import Access, Kernel, Statement


@dataclass(frozen=True)
class Reduction:
    op: str  # "+" or "-": how the partial sum is folded into the target
    target: str  # lvalue text with the statement's iterators, e.g. "q[i]"
    increment: str  # the summed expression, e.g. "A[i][j] * p[j]"


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text)


def parse_reduction(st: Statement) -> Reduction | None:
    """``W += e``, ``W -= e``, ``W = W + e`` or ``W = W - e`` with ``e`` free of ``W``."""
    if len(st.writes) != 1 or st.where:
        return None
    w = st.writes[0]
    lhs_pat = re.escape(w.array) + "".join(r"\s*\[[^\]]*\]" for _ in w.subscripts)
    m = re.fullmatch(rf"\s*({lhs_pat})\s*([+-])=\s*(.+?)\s*;?\s*", st.body)
    if m:  # W -= e  is  W - (e)
        target, op, inc = m.group(1), m.group(2), f"({m.group(3)})"
    else:  # W = W - a + b  is  W + (- a + b): C's left-to-right grouping kept
        m = re.fullmatch(rf"\s*({lhs_pat})\s*=\s*({lhs_pat})\s*([+-])\s*(.+?)\s*;?\s*", st.body)
        if not m or _norm(m.group(1)) != _norm(m.group(2)):
            return None
        if re.search(r"[?:<>=!&|^,]", m.group(4)):
            return None  # W = W + a > b ? ..: C groups (W + a) > b, not W + (a > b ...)
        target, op, inc = m.group(1), "+", f"({'- ' if m.group(3) == '-' else ''}{m.group(4)})"
    if _norm(target) in _norm(inc):
        return None  # the increment reads the running value: not a reduction
    return Reduction(op, target, inc)


def is_reduction_loop(kernel: Kernel, st: Statement, varying: list[str]) -> Reduction | None:
    """The statement reduces over the loop whose iteration moves ``varying`` iterators.

    Legal when the written location does not depend on the varying iterators and no
    other read of the same array can touch it while they vary (checked exactly with
    isl on the statement's domain); then the loop carries only the update chain.
    """
    if not varying:
        return None
    red = parse_reduction(st)
    if red is None:
        return None
    w = st.writes[0]
    if any(re.search(rf"\b{re.escape(v)}\b", s) for v in varying for s in w.subscripts):
        return None
    if w.array in _ident_set(red.increment) and not _others_disjoint(kernel, st, w, varying):
        return None
    return red


def _ident_set(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_]\w*", text))


def _others_disjoint(kernel: Kernel, st: Statement, w: Access, varying: list[str]) -> bool:
    """No read of ``w.array`` other than ``w`` itself hits ``w``'s element in the loop."""
    fixed = [it for it in st.iters if it not in varying]
    primed = [f"{it}_" for it in st.iters]
    same_outer = " and ".join(f"{it}_ = {it}" for it in fixed) or "true"
    dom = kernel.domain_of(st)
    pairs = isl.Map(f"{kernel.param_decl} -> {{ {st.name}[{', '.join(st.iters)}] -> "
                    f"{st.name}[{', '.join(primed)}] : {same_outer} }}")
    pairs = pairs.intersect_domain(dom).intersect_range(dom)
    write = isl.Map.from_union_map(kernel._access_map(st, w))
    for acc in st.reads:
        if acc.array != w.array or [_norm(s) for s in acc.subscripts] == [_norm(s) for s in w.subscripts]:
            continue
        read = isl.Map.from_union_map(kernel._access_map(st, acc))
        # instances s, s' of one loop execution with read(s) == write(s')
        hits = pairs.intersect(read.apply_range(write.reverse()))
        if not hits.intersect_params(kernel.context()).is_empty():
            return False
    return True


def macros(kernel: Kernel) -> str:
    """``#define Sk_RI(i, j)`` (increment) and ``Sk_RT(i, j)`` (target) per reducible statement."""
    out = []
    for st in kernel.statements:
        red = parse_reduction(st)
        if red is None:
            continue
        args = ", ".join(st.iters)
        out.append(f"#define {st.name}_RI({args}) ({kernel.parenthesise(st, red.increment)})")
        out.append(f"#define {st.name}_RT({args}) {kernel.parenthesise(st, red.target)}")
    return "\n".join(out)
