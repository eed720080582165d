"""Tile sizes from the cache sizes: the largest tiles whose data fit in a share of the cache.

For a permutable band of n members and tile sizes T_0..T_{n-1}, an access touches about
prod(T_m for the members m whose iterators appear in its subscripts) elements per tile (an upper
bound: members that move the same array dim overlap). The footprint of a tile is the sum over
the band's distinct accesses. The model takes the largest uniform size T (a multiple of 8, so
vector loops stay whole) whose footprint fits in `share` of the per-core L2, then doubles the
innermost member's size while it still fits: long stride-1 rows for the vector loop, and fewer
tile-loop iterations for it.

The cache sizes come from Linux's sysfs (cpu0); `CacheSizes` can be given explicitly (tests, or
a target machine that is not this one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import islpy as isl

from .dsl import Kernel

SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")
CANDIDATE_SIZES = (256, 192, 128, 96, 64, 48, 32, 24, 16, 8)
MAX_INNER = 1024


@dataclass(frozen=True)
class CacheSizes:
    l1: int = 32 * 1024
    l2: int = 1024 * 1024


def _bytes(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)\s*", text)
    if not m:
        raise ValueError(text)
    return int(m.group(1)) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]


def detect_caches(root: Path = SYSFS) -> CacheSizes:
    """Data/unified L1 and L2 of cpu0; the defaults when sysfs does not say."""
    found: dict[int, int] = {}
    for index in sorted(root.glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = _bytes((index / "size").read_text())
        except (OSError, ValueError):
            continue
        if kind in ("Data", "Unified"):
            found[level] = size
    default = CacheSizes()
    return CacheSizes(found.get(1, default.l1), found.get(2, default.l2))


def _member_dependence(node: isl.ScheduleNode, kernel: Kernel) -> list[dict[str, set[str]]]:
    """Per band member, per statement: the statement iterators the member's expression uses."""
    n = node.band_n_member()
    mupa = node.band_get_partial_schedule()
    out: list[dict[str, set[str]]] = []
    for m in range(n):
        per: dict[str, set[str]] = {}
        pieces: list[isl.PwAff] = []
        mupa.get_at(m).foreach_pw_aff(pieces.append)
        for pa in pieces:
            name = pa.get_domain_space().get_tuple_name(isl.dim_type.set)
            st = kernel.stmt_by_name(name)
            per[name] = {it for d, it in enumerate(st.iters) if pa.involves_dims(isl.dim_type.in_, d, 1)}
        out.append(per)
    return out


def access_members(node: isl.ScheduleNode, kernel: Kernel) -> list[set[int]]:
    """For each distinct access of the band's statements: the members its subscripts move with."""
    deps = _member_dependence(node, kernel)
    seen: dict[str, set[int]] = {}
    for name in {s for per in deps for s in per}:
        st = kernel.stmt_by_name(name)
        for acc in [*st.reads, *st.writes]:
            key = f"{name}:{acc.isl_text()}"
            used = {it for sub in acc.subscripts for it in re.findall(r"[A-Za-z_]\w*", sub)}
            seen[key] = {m for m, per in enumerate(deps) if per.get(name, set()) & used}
    # accesses of different statements to the same array element set count once
    unique: dict[tuple[str, frozenset[int]], set[int]] = {}
    for key, members in seen.items():
        array = key.split(":", 1)[1].split("[", 1)[0]
        unique[(array, frozenset(members))] = members
    return list(unique.values())


def footprint(sizes: list[int], accesses: list[set[int]], elem_bytes: int) -> int:
    total = 0
    for members in accesses:
        elems = 1
        for m in members:
            elems *= sizes[m]
        total += elems
    return total * elem_bytes


def model_sizes(accesses: list[set[int]], n: int, budget: int, elem_bytes: int) -> list[int]:
    """Uniform sizes that fit `budget` bytes, then the innermost member doubled while it fits."""
    sizes = [CANDIDATE_SIZES[-1]] * n
    for t in CANDIDATE_SIZES:
        if footprint([t] * n, accesses, elem_bytes) <= budget:
            sizes = [t] * n
            break
    while sizes[-1] * 2 <= MAX_INNER:
        longer = [*sizes[:-1], sizes[-1] * 2]
        if footprint(longer, accesses, elem_bytes) > budget:
            break
        sizes = longer
    return sizes


def band_tile_sizes(node: isl.ScheduleNode, kernel: Kernel, caches: CacheSizes, share: float,
                    elem_bytes: int) -> list[int]:
    accesses = access_members(node, kernel)
    return model_sizes(accesses, node.band_n_member(), int(caches.l2 * share), elem_bytes)
