"""Summaries of bench results: per-kernel tables, geomeans, anchor comparison (Markdown)."""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from . import kernels as kreg
from .bench import Record
from .config import PRESETS

ANCHOR = Path("/work/shared/anchors/pluto_polybench.csv")
CANDIDATES = [*PRESETS, "override", "selected"]  # "selected": chosen on another size (select.py)


def geomean(xs: list[float]) -> float:
    xs = [x for x in xs if x > 0 and math.isfinite(x)]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def index(records: list[Record], size: str) -> dict[tuple[str, str, int], Record]:
    return {(r.kernel, r.variant, r.threads): r for r in records if r.size == size}


def best_candidate(idx: dict, kernel: str, threads: int) -> tuple[str, float] | None:
    """Fastest *correct* preset/override for a kernel (the kernel-specific choice)."""
    best = None
    for v in CANDIDATES:
        r = idx.get((kernel, v, threads))
        if r and r.status == "ok" and r.mean and (best is None or r.mean < best[1]):
            best = (v, r.mean)
    return best


def time_table(records: list[Record], size: str, threads: int) -> str:
    idx = index(records, size)
    cols = ["orig", "isl", "polly", "pluto", *CANDIDATES]
    lines = ["| kernel | " + " | ".join(cols) + " | best |", "|" + "---|" * (len(cols) + 2)]
    for k in kreg.names():
        cells = []
        for v in cols:
            r = idx.get((k, v, threads))
            cells.append(_cell(r))
        b = best_candidate(idx, k, threads)
        cells.append(f"{b[0]} {b[1]:.4f}" if b else "-")
        if any(c != "-" for c in cells):
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(r: Record | None) -> str:
    if r is None or r.status == "skipped":
        return "-"
    if r.status != "ok":
        return r.status.upper() + (f" {r.mean:.4f}" if r.mean else "")
    return f"{r.mean:.4f}" + ("~" if r.spread and r.spread > 0.05 else "")


def speedups(records: list[Record], size: str, threads: int) -> str:
    idx = index(records, size)
    bases = ("orig", "isl", "polly", "pluto")
    lines = ["| variant | " + " | ".join(f"vs {b}" for b in bases) + " | kernels (correct) |", "|---|---|---|---|---|---|"]
    for v in [*CANDIDATES, "best", "isl", "polly", "pluto"]:
        ratios: dict[str, list[float]] = {b: [] for b in bases}
        n = 0
        for k in kreg.names():
            t = _time(idx, k, v, threads)
            if t is None:
                continue
            n += 1
            for base in ratios:
                tb = _time(idx, k, base, threads)
                if tb is not None:
                    ratios[base].append(tb / t)
        if n:
            lines.append(f"| {v} | " + " | ".join(f"{geomean(ratios[b]):.3f}x ({len(ratios[b])})"
                                                  for b in bases) + f" | {n} |")
    return "\n".join(lines)


def _time(idx: dict, k: str, v: str, threads: int) -> float | None:
    if v == "best":
        b = best_candidate(idx, k, threads)
        return b[1] if b else None
    r = idx.get((k, v, threads))
    return r.mean if r and r.status == "ok" and r.mean else None


def sched_times(records: list[Record], size: str) -> str:
    per: dict[str, list[float]] = {}
    for r in records:
        if r.size == size and r.sched_s is not None:
            per.setdefault(r.variant, []).append(r.sched_s)
    lines = ["| scheduler | median (s) | worst (s) | n |", "|---|---|---|---|"]
    for v, xs in sorted(per.items()):
        lines.append(f"| {v} | {statistics.median(xs):.3f} | {max(xs):.3f} | {len(xs)} |")
    return "\n".join(lines)


def correctness(records: list[Record], size: str) -> str:
    idx = index(records, size)
    bad = [f"{k}/{v}/{t}t: {r.status}" for (k, v, t), r in sorted(idx.items()) if r.status not in ("ok", "skipped")]
    total = sum(1 for r in idx.values() if r.status != "skipped")
    return f"{total - len(bad)}/{total} variant runs correct at {size}" + (
        "; not ok: " + ", ".join(bad) if bad else "")


def anchor_table(records: list[Record], size: str, threads: int = 2) -> str:
    if not ANCHOR.exists():
        return "(anchor file not found)"
    idx = index(records, size)
    rows = list(csv.DictReader(line for line in ANCHOR.read_text().splitlines() if not line.startswith("#")))
    lines = ["| kernel | Pluto 2t speedup | Pluto check | ours best 2t speedup | best variant | ours/Pluto |",
             "|---|---|---|---|---|---|"]
    ours_all, pluto_all = [], []
    for row in rows:
        k = row["kernel"]
        pl = float(row["orig_s"]) / float(row["pluto2t_s"])
        b = best_candidate(idx, k, threads)
        to = _time(idx, k, "orig", threads)
        if b is None or to is None:
            lines.append(f"| {k} | {pl:.2f}x | {row['pluto2t_check']} | - | - | - |")
            continue
        ours = to / b[1]
        ours_all.append(ours)
        pluto_all.append(pl)
        lines.append(f"| {k} | {pl:.2f}x | {row['pluto2t_check']} | {ours:.2f}x | {b[0]} | {ours / pl:.2f} |")
    g_o, g_p = geomean(ours_all), geomean(pluto_all)
    lines.append(f"| **geomean** ({len(ours_all)} kernels) | {g_p:.2f}x | | {g_o:.2f}x | best | {g_o / g_p:.2f} |")
    pluto_ok = {row["kernel"] for row in rows if row["pluto2t_check"] in ("OK", "FPC")}
    for v in CANDIDATES:  # each single configuration column alone (no per-kernel oracle)
        for label, keep in (("", None), (", Pluto-correct kernels only", pluto_ok)):
            pairs = [(to / t, float(row["orig_s"]) / float(row["pluto2t_s"])) for row in rows
                     if (keep is None or row["kernel"] in keep)
                     and (to := _time(idx, row["kernel"], "orig", threads))
                     and (t := _time(idx, row["kernel"], v, threads))]
            if pairs:
                g_v, g_pl = geomean([a for a, _ in pairs]), geomean([b for _, b in pairs])
                lines.append(f"| geomean {v} ({len(pairs)} kernels{label}) | {g_pl:.2f}x | | {g_v:.2f}x | {v} "
                             f"| {g_v / g_pl:.2f} |")
    return "\n".join(lines)


def summary(records: list[Record], size: str, threads: list[int]) -> str:
    parts = [f"# PolyTOPS bench summary ({size})", "", correctness(records, size), ""]
    for t in threads:
        parts += [f"## {t} thread(s): mean of middle 3 of 5 runs, seconds (~ = spread > 5%)", "",
                  time_table(records, size, t), "", "### geomean speedups", "", speedups(records, size, t), ""]
    parts += ["## scheduling time", "", sched_times(records, size), ""]
    if 2 in threads:
        parts += ["## vs the Pluto anchor (2 threads; speedups over each side's own original)", "",
                  anchor_table(records, size, 2), ""]
    return "\n".join(parts)
