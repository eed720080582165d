"""PNG plots for bench and run reports (matplotlib, imported lazily: it is an optional extra).

Every plot has a title, labeled axes, a 1.0x reference line where speedups are drawn, and colors
by status, so a reader sees at a glance what was fast, what was slow and what failed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from akg_agents.bench.metrics import TaskResult, geomean
from akg_agents.errors import ConfigError

STATUS_COLOR = {
    "correct": "#2a9d4b", "slower": "#e9a23b", "incorrect": "#d1495b", "declined": "#9aa0a6", "error": "#6a4c93",
    "passed": "#2a9d4b", "mismatch": "#e9a23b", "rejected": "#c0399a", "compile_error": "#d1495b",
    "runtime_error": "#a4243b", "timeout": "#7a4e2d",
}
A_COLOR, B_COLOR = "#3a6ea5", "#e07a2f"


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("plots need matplotlib: pip install 'akg_agents[plots]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "axes.spines.top": False, "axes.spines.right": False, "font.size": 9})
    return plt


def _reference_line(ax: Any, vertical: bool) -> None:
    draw = ax.axvline if vertical else ax.axhline
    draw(1.0, color="#333333", linestyle="--", linewidth=1, zorder=3, label="1.0x (PyTorch eager)")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _speed_limits(values: list[float]) -> tuple[float, float]:
    low = min([*values, 1.0])
    high = max([*values, 1.0])
    return 2 ** (math.floor(math.log2(low)) - 0.3), 2 ** (math.ceil(math.log2(high)) + 0.5)


def _log_axis(ax: Any, axis: str, limits: tuple[float, float]) -> None:
    from matplotlib.ticker import FuncFormatter

    (ax.set_xscale if axis == "x" else ax.set_yscale)("log", base=2)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*limits)
    fmt = FuncFormatter(lambda v, _: f"{v:g}x")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def speedup_bars(results: list[TaskResult], path: Path, title: str, compile_baseline: bool = False) -> Path:
    """One horizontal bar per task, drawn from the 1.0x line (log scale), so faster goes right and
    slower goes left; tasks without a verified kernel get a labeled stub in their status color."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    speed = [(r.speedup_compile if compile_baseline else r.speedup) for r in results]
    timed = [s for s in speed if s is not None and s > 0]
    low, high = _speed_limits(timed or [1.0])
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(results) + 1.8))
    shown: dict[str, str] = {}
    for row, (result, value) in enumerate(zip(results[::-1], speed[::-1], strict=True)):
        if result.correct and value is not None and value > 0:
            key = "correct" if value >= 1.0 else "slower"
            ax.barh(row, value - 1.0, left=1.0, color=STATUS_COLOR[key], height=0.7, zorder=2)
            label = f"{value:.2f}x" + (" (!)" if result.flags else "")
            right = value >= 1.0
            ax.text(value * (1.04 if right else 0.96), row, label, va="center", ha="left" if right else "right", fontsize=8)
        else:
            key = result.status
            ax.text(low * 1.06, row, result.status, va="center", fontsize=8, color=STATUS_COLOR.get(key, "k"), fontweight="bold")
        shown[key] = key
    _reference_line(ax, vertical=True)
    ax.set_yticks(range(len(results)), [r.name for r in results][::-1])
    ax.set_ylim(-0.6, len(results) - 0.4)
    _log_axis(ax, "x", (low, high))
    baseline = "torch.compile" if compile_baseline else "PyTorch eager"
    ax.set_xlabel(f"speedup of the best verified kernel over {baseline} (log scale; right of the line is faster)")
    ax.set_ylabel("task")
    ax.set_title(f"{title}\n{_headline(results, compile_baseline)}", fontweight="bold")
    ax.grid(axis="x", which="major", alpha=0.3, zorder=0)
    names = {"correct": "correct, >= 1.0x", "slower": "correct, < 1.0x", "incorrect": "incorrect",
             "declined": "declined (not covered)", "error": "task error", "timeout": "timed out (not shown wrong)"}
    handles = [Patch(color=STATUS_COLOR[k], label=label) for k, label in names.items() if k in shown]
    if any(r.flags for r in results if r.correct):
        handles.append(Patch(color="white", label="(!) flagged: check by hand"))
    ax.legend(handles=[*handles, ax.get_lines()[0]], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="status")
    return _save(fig, path)


def _headline(results: list[TaskResult], compile_baseline: bool = False) -> str:
    from akg_agents.bench.metrics import compute

    m = compute(results)
    fast = m.fast_p_compile if compile_baseline and m.fast_p_compile else m.fast_p
    mean = m.geomean_compile if compile_baseline else m.geomean
    gm = f"{mean:.2f}x" if mean else "-"
    return f"{m.correct}/{m.tasks} correct, fast_1 = {100 * fast.get(1.0, 0.0):.0f}%, geomean {gm} over correct tasks"


def speedup_histogram(results: list[TaskResult], path: Path, title: str) -> Path:
    """Distribution of speedups of correct tasks, log-spaced bins, with the 1.0x line and the geomean."""
    plt = _pyplot()
    values = [r.speedup for r in results if r.correct and r.speedup]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    low, high = _speed_limits(values or [1.0])
    if values:
        # quarter-octave bins with an edge at exactly 1.0x, so no bar mixes slower and faster tasks
        bins = [2 ** (i / 4) for i in range(math.floor(4 * math.log2(low)), math.ceil(4 * math.log2(high)) + 1)]
        _counts, edges, patches = ax.hist(values, bins=bins, edgecolor="white", zorder=2)
        for patch, left in zip(patches, edges[:-1], strict=False):
            patch.set_facecolor(STATUS_COLOR["correct" if left >= 1.0 else "slower"])
        mean = geomean(values)
        if mean:
            ax.axvline(mean, color=A_COLOR, linewidth=1.5, label=f"geomean {mean:.2f}x", zorder=3)
    else:
        ax.text(0.5, 0.5, "no correct task", transform=ax.transAxes, ha="center", color=STATUS_COLOR["incorrect"])
    _reference_line(ax, vertical=True)
    _log_axis(ax, "x", (low, high))
    failed = sum(not r.correct for r in results)
    ax.set_title(f"{title}\n{len(values)} correct tasks; {failed} not correct (not shown)", fontweight="bold")
    ax.set_xlabel("speedup over PyTorch eager (log scale)")
    ax.set_ylabel("tasks")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)
    return _save(fig, path)


def best_so_far(results: list[TaskResult], path: Path, title: str) -> Path:
    """Best verified speedup against candidates evaluated: one thin line per task, the geomean bold."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    curves = [r.best_so_far for r in results if r.best_so_far]
    longest = max((len(c) for c in curves), default=0)
    for result in results:
        curve = result.best_so_far
        if curve and any(curve):
            points = [(i + 1, v) for i, v in enumerate(curve) if v > 0]
            ax.plot(*zip(*points, strict=True), color="#8a9bb0", linewidth=0.9, alpha=0.6, marker=".", markersize=3)
    if longest:
        steps = range(1, longest + 1)
        means = []
        for step in steps:  # a task's curve stays at its last value once it stopped generating
            values = [c[min(step, len(c)) - 1] for c in curves if c[min(step, len(c)) - 1] > 0]
            means.append(geomean(values) if values else None)
        shown = [(s, m) for s, m in zip(steps, means, strict=True) if m]
        if shown:
            ax.plot(*zip(*shown, strict=True), color=A_COLOR, linewidth=2.5, marker="o", label="geomean over tasks")
    _reference_line(ax, vertical=False)
    ax.set_yscale("log", base=2)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}x"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("candidates evaluated (per task, in evaluation order)")
    ax.set_ylabel("best verified speedup so far (log scale)")
    ax.set_title(title, fontweight="bold")
    ax.grid(alpha=0.3)
    ax.plot([], [], color="#8a9bb0", linewidth=0.9, label="one task")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _save(fig, path)


def candidate_bars(rows: list[dict[str, Any]], path: Path, title: str) -> Path:
    """A single run: every candidate's speedup (failed ones as labeled stubs), colored by status."""
    plt = _pyplot()
    timed = [r["speedup"] for r in rows if r["speedup"]]
    low, high = _speed_limits(timed or [1.0])
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * len(rows) + 2), 3.8))
    for col, row in enumerate(rows):
        color = STATUS_COLOR.get(row["status"], "k")
        if row["speedup"]:
            ax.bar(col, row["speedup"] - low, bottom=low, color=color, width=0.7, zorder=2)
            ax.text(col, row["speedup"] * 1.04, f"{row['speedup']:.2f}x", ha="center", fontsize=8)
        else:
            ax.text(col, low * 1.08, row["status"], ha="center", rotation=90, va="bottom", fontsize=8, color=color)
    _reference_line(ax, vertical=False)
    ax.set_xticks(range(len(rows)), [r["candidate"] for r in rows], rotation=30, ha="right")
    _log_axis(ax, "y", (low, high))
    ax.set_xlabel("candidate (in evaluation order)")
    ax.set_ylabel("speedup over PyTorch eager (log scale)")
    ax.set_title(title, fontweight="bold")
    ax.grid(axis="y", alpha=0.3, zorder=0)
    ax.legend(fontsize=8)
    return _save(fig, path)


def compare_bars(a: list[TaskResult], b: list[TaskResult], labels: tuple[str, str], path: Path) -> Path:
    """Two benches side by side, task by task (tasks present in either)."""
    plt = _pyplot()
    by_a, by_b = {r.name: r for r in a}, {r.name: r for r in b}
    names = [r.name for r in a] + [r.name for r in b if r.name not in by_a]
    values = [s for r in a + b for s in [r.speedup] if r.correct and s]
    low, high = _speed_limits(values or [1.0])
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(names) + 1.6))
    for row, name in enumerate(names[::-1]):
        ra, rb = by_a.get(name), by_b.get(name)
        if ra is not None and rb is not None and not ra.correct and ra.status == rb.status:
            ax.text(low * 1.06, row, f"{ra.status} (both)", va="center", fontsize=7, color=STATUS_COLOR.get(ra.status, "k"))
            continue
        for offset, found, color in ((0.2, ra, A_COLOR), (-0.2, rb, B_COLOR)):
            if found is not None and found.correct and found.speedup:
                value = found.speedup
                ax.barh(row + offset, value - 1.0, left=1.0, height=0.38, color=color, zorder=2)
                right = value >= 1.0
                ax.text(value * (1.03 if right else 0.97), row + offset, f"{value:.2f}x", va="center", fontsize=7,
                        ha="left" if right else "right")
            else:
                status = found.status if found is not None else "absent"
                ax.text(low * 1.06, row + offset, status, va="center", fontsize=7, color=STATUS_COLOR.get(status, "k"))
    _reference_line(ax, vertical=True)
    ax.set_yticks(range(len(names)), names[::-1])
    _log_axis(ax, "x", (low, high))
    from matplotlib.patches import Patch

    ax.set_ylim(-0.7, len(names) - 0.3)
    ax.legend(handles=[Patch(color=A_COLOR, label=f"A: {labels[0]}"), Patch(color=B_COLOR, label=f"B: {labels[1]}"),
                       ax.get_lines()[0]], fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_xlabel("speedup of the best verified kernel over PyTorch eager (log scale; right of the line is faster)")
    ax.set_ylabel("task")
    ax.set_title("A vs B, task by task", fontweight="bold")
    ax.grid(axis="x", alpha=0.3, zorder=0)
    return _save(fig, path)


__all__ = ["best_so_far", "candidate_bars", "compare_bars", "speedup_bars", "speedup_histogram"]
