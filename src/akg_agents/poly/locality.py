"""Which accesses a schedule's innermost loops walk across rows (row-major arrays).

select.py measures candidates at a size whose arrays fit in the cache. There, an untiled
schedule whose innermost loop walks a matrix column by column costs little; at a size whose
arrays do not fit, it costs a cache line per iteration, and nothing brings the line back before
it is evicted. adi's feautrier_like schedule ran 0.05 s against the original's 0.09 s at MEDIUM,
and 30 s against 15 s at LARGE. Timings at the small size cannot see that; the schedule can.
"""

from __future__ import annotations

import islpy as isl

from .dimsolve import identifiers
from .dsl import Kernel, Statement


def innermost_iterators(kernel: Kernel, schedule: isl.Schedule | None) -> dict[str, set[str]]:
    """Per statement, the iterators its innermost loop advances.

    With `schedule` None, this is the original order: the last iterator of the statement's nest.
    """
    if schedule is None:
        return {st.name: ({st.iters[-1]} if st.iters else set()) for st in kernel.statements}
    out: dict[str, set[str]] = {}
    maps: list[isl.Map] = []
    schedule.get_map().foreach_map(maps.append)
    for m in maps:
        name = m.get_tuple_name(isl.dim_type.in_)
        try:
            st = kernel.stmt_by_name(name)
        except KeyError:  # a statement the kernel does not have (none today): no opinion
            continue
        pma = isl.PwMultiAff.from_map(m)
        inner: set[str] = set()
        # the innermost loop is the last schedule dimension that moves with an iterator
        # (the functions of its pieces, not their domains: under a sequence node every piece's
        # domain bounds every iterator, and PwAff.involves_dims would see them all)
        for d in reversed(range(pma.dim(isl.dim_type.out))):
            affs = [aff for _dom, aff in pma.get_pw_aff(d).get_pieces()]
            inner = {it for k, it in enumerate(st.iters)
                     if any(aff.involves_dims(isl.dim_type.in_, k, 1) for aff in affs)}
            if inner:
                break
        out[name] = inner
    return out


def _strided(st: Statement, inner: set[str]) -> int:
    return sum(1 for acc in [*st.reads, *st.writes]
               if len(acc.subscripts) >= 2 and any(inner & identifiers(s) for s in acc.subscripts[:-1]))


def strided_accesses(kernel: Kernel, schedule: isl.Schedule | None) -> int:
    """How many (statement, access) pairs the innermost loops walk across rows."""
    inner = innermost_iterators(kernel, schedule)
    return sum(_strided(st, inner[st.name]) for st in kernel.statements if st.name in inner)
