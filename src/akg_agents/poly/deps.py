"""Dependence analysis with isl's dataflow analysis (flow, anti, output; with kills).

Using ``compute_flow`` with must-sources (instead of plain access intersection) gives
memory-based dependences where an intervening write kills older ones: only the last
writer feeds a read, only the next write follows a read.  That keeps the dependence
polyhedra small, which matters because each basic map becomes one Farkas system.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import islpy as isl

from .dsl import Kernel


@dataclass
class Dep:
    """One dependence relation between two statements (one isl basic map)."""

    kind: str  # "flow" (RAW), "anti" (WAR), "output" (WAW)
    src: str
    dst: str
    rel: isl.BasicMap

    def __str__(self) -> str:
        return f"{self.kind:6s} {self.src} -> {self.dst}: {self.rel}"


@dataclass
class Dependences:
    flow: isl.UnionMap
    anti: isl.UnionMap
    output: isl.UnionMap
    # RAR (reuse only; never a validity constraint): a map, or a function computing it on first
    # use (only `rar: true` configurations read it; on heat-3d it was 1.9 s of the 2.2 s analysis)
    rar: isl.UnionMap | Callable[[], isl.UnionMap] | None = None

    @property
    def input(self) -> isl.UnionMap | None:
        if callable(self.rar):
            self.rar = self.rar()
        return self.rar

    @property
    def false(self) -> isl.UnionMap:
        return self.anti.union(self.output)

    @property
    def all(self) -> isl.UnionMap:
        return self.flow.union(self.anti).union(self.output)

    def split(self, with_input: bool = False) -> list[Dep]:
        """All dependences as per-statement-pair basic maps (coalesced first)."""
        out: list[Dep] = []
        kinds = [("flow", self.flow), ("anti", self.anti), ("output", self.output)]
        if with_input and self.input is not None:
            kinds.append(("input", self.input))
        for kind, um in kinds:
            for m in _maps(um.coalesce()):
                src = m.get_tuple_name(isl.dim_type.in_)
                dst = m.get_tuple_name(isl.dim_type.out)
                for bm in m.get_basic_maps():
                    out.append(Dep(kind, src, dst, bm))
        return out


def _maps(um: isl.UnionMap) -> list[isl.Map]:
    maps: list[isl.Map] = []
    um.foreach_map(maps.append)
    return maps


def compute_dependences(kernel: Kernel) -> Dependences:
    sched = kernel.original_schedule()
    reads, writes = kernel.reads(), kernel.writes()
    # RAW: the last write before each read
    flow = (isl.UnionAccessInfo.from_sink(reads).set_must_source(writes)
            .set_schedule_map(sched).compute_flow().get_must_dependence())
    # WAW: the previous write of the same element
    output = (isl.UnionAccessInfo.from_sink(writes).set_must_source(writes)
              .set_schedule_map(sched).compute_flow().get_must_dependence())
    # WAR: reads since the previous write (writes kill older reads; those are ordered
    # transitively through the WAW chain)
    anti = (isl.UnionAccessInfo.from_sink(writes).set_may_source(reads).set_kill(writes)
            .set_schedule_map(sched).compute_flow().get_may_dependence())
    ctx = kernel.context()

    @functools.cache
    def rar() -> isl.UnionMap:  # the previous read of the same element (proximity/reuse only)
        inp = (isl.UnionAccessInfo.from_sink(reads).set_must_source(reads)
               .set_schedule_map(sched).compute_flow().get_must_dependence())
        return inp.intersect_params(ctx).coalesce()

    return Dependences(flow.intersect_params(ctx).coalesce(),
                       anti.intersect_params(ctx).coalesce(),
                       output.intersect_params(ctx).coalesce(),
                       rar)


def check_schedule(schedule_map: isl.UnionMap, deps: isl.UnionMap) -> list[str]:
    """Return violated dependences (empty list: the schedule respects every dependence).

    A dependence src -> dst is respected when schedule(src) << schedule(dst)
    lexicographically; the check is exact (isl set inclusion), not sampled.
    """
    problems: list[str] = []
    for m in _maps(deps):
        src = m.get_tuple_name(isl.dim_type.in_)
        dst = m.get_tuple_name(isl.dim_type.out)
        s_src = _restrict(schedule_map, src)
        s_dst = _restrict(schedule_map, dst)
        times = isl.UnionMap.from_map(m).apply_domain(s_src).apply_range(s_dst)
        if times.is_empty():
            continue
        tm = isl.Map.from_union_map(times)
        lt = isl.Map.lex_lt(tm.get_space().domain())
        bad = tm.subtract(lt.intersect_params(tm.params()))
        if not bad.is_empty():
            problems.append(f"{src} -> {dst} violated on {bad}")
    return problems


def _restrict(um: isl.UnionMap, name: str) -> isl.UnionMap:
    out = isl.UnionMap.empty(um.get_space())
    for m in _maps(um):
        if m.get_tuple_name(isl.dim_type.in_) == name:
            out = out.union(isl.UnionMap.from_map(m))
    return out
