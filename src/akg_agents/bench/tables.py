"""Markdown tables for bench results: metrics, per-task rows, declined/flagged lists, A-vs-B comparison."""

from __future__ import annotations

from akg_agents.bench.metrics import CORRECT, DECLINED, ERROR, FAST_P, TIMED_OUT, Metrics, TaskResult, compute
from akg_agents.records import RunConfig


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def shapes(result: TaskResult) -> str:
    inputs = " ".join("(" + ", ".join(str(d) for d in s) + ")" for s in result.input_shapes) or "-"
    scaled = ", ".join(f"{k}={v}" for k, v in result.sizes.items())
    return f"{inputs}" + (f" [scaled: {scaled}]" if scaled else "")


def metrics_table(metrics: Metrics) -> str:
    """The headline table: one row per metric, a column for each baseline that was timed."""
    both = metrics.fast_p_compile is not None
    head = "| metric | vs eager |" + (" vs torch.compile |" if both else "")
    rule = "|---|---|" + ("---|" if both else "")
    lines = [head, rule]

    def row(name: str, eager: str, compiled: str = "") -> None:
        lines.append(f"| {name} | {eager} |" + (f" {compiled} |" if both else ""))

    row("tasks", str(metrics.tasks), str(metrics.tasks))
    row("correct", f"{metrics.correct} ({_pct(metrics.correctness)})", f"{metrics.correct} ({_pct(metrics.correctness)})")
    for p in FAST_P:
        if p in metrics.fast_p:
            compiled = _pct(metrics.fast_p_compile[p]) if metrics.fast_p_compile else ""
            row(f"fast_{p:g}", _pct(metrics.fast_p[p]), compiled)
    row("geomean speedup (correct tasks)", _x(metrics.geomean), _x(metrics.geomean_compile))
    row("declined / task errors", f"{metrics.declined} / {metrics.errors}", "")
    if metrics.timeouts:
        row("timed out (every candidate)", str(metrics.timeouts), "")
    row("flagged speedups", str(metrics.flagged), "")
    row("tokens / cost", f"{metrics.tokens} / ${metrics.cost_usd:.4f}", "")
    row("wall time (sum over tasks)", f"{metrics.wall_s:.1f} s", "")
    return "\n".join(lines)


def task_table(results: list[TaskResult]) -> str:
    with_compile = any(r.speedup_compile is not None for r in results)
    head = "| task | status | speedup | " + ("vs compile | " if with_compile else "") + \
        "kernel (ms) | eager (ms) | candidates (passed) | tokens | cost | wall (s) | shapes used |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        compiled = f"{_x(r.speedup_compile)} | " if with_compile else ""
        lines.append(
            f"| {r.name} | {r.status}{' (!)' if r.flags else ''} | {_x(r.speedup)} | {compiled}"
            f"{_ms(r.candidate_ms)} | {_ms(r.eager_ms)} | {r.candidates} ({r.passed}) | {r.tokens} | "
            f"${r.cost_usd:.4f} | {r.wall_s:.1f} | {shapes(r)} |"
        )
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def lists(results: list[TaskResult]) -> str:
    """Flagged speedups, declined tasks and task errors, each with its reason."""
    parts = []
    flagged = [r for r in results if r.correct and r.flags]
    if flagged:
        parts.append("## Flagged speedups (counted above; check before trusting)\n")
        parts += [f"- {r.name}: {_x(r.speedup)}: {'; '.join(r.flags)}" for r in flagged]
        parts.append("")
    for status, title in ((DECLINED, "Declined (counted as not correct)"), (ERROR, "Task errors (counted as not correct)"),
                          (TIMED_OUT, "Timed out: every candidate ran out of time, none was shown wrong (counted as not correct)"),
                          ("incorrect", "Not correct")):
        chosen = [r for r in results if r.status == status]
        if chosen:
            parts.append(f"## {title}\n")
            parts += [f"- {r.name}: {r.reason.splitlines()[0][:200] if r.reason else '-'}" for r in chosen]
            parts.append("")
    return "\n".join(parts)


def config_line(config: RunConfig | None) -> str:
    if config is None:
        return ""
    scale = f", scale budget {config.scale_budget_ms:g} ms" if config.scale_budget_ms else ""
    return (f"{config.backend}/{config.arch}, dsl {config.dsl}, workflow {config.workflow}, model {config.model}, "
            f"baseline {config.baseline}, max candidates {config.max_candidates}, threads {config.threads or 'all'}{scale}")


def summary_markdown(title: str, results: list[TaskResult], config: RunConfig | None, note: str = "") -> str:
    metrics = compute(results)
    parts = [f"# {title}", ""]
    if config is not None:
        parts += [f"Setup: {config_line(config)}.", ""]
    if note:
        parts += [note, ""]
    parts += [metrics_table(metrics), "", "fast_p: correct AND speedup strictly above p, over ALL tasks; "
              "geomean over correct tasks only.", "", "## Tasks", "", task_table(results), "", lists(results)]
    return "\n".join(parts).rstrip() + "\n"


def compare_markdown(a: list[TaskResult], b: list[TaskResult], labels: tuple[str, str]) -> str:
    ma, mb = compute(a), compute(b)
    lines = [f"# Comparison: A = {labels[0]}, B = {labels[1]}", "", "| metric | A | B |", "|---|---|---|",
             f"| tasks | {ma.tasks} | {mb.tasks} |",
             f"| correct | {ma.correct} ({_pct(ma.correctness)}) | {mb.correct} ({_pct(mb.correctness)}) |"]
    lines += [f"| fast_{p:g} | {_pct(ma.fast_p[p])} | {_pct(mb.fast_p[p])} |" for p in FAST_P]
    lines += [f"| geomean speedup | {_x(ma.geomean)} | {_x(mb.geomean)} |",
              f"| tokens / cost | {ma.tokens} / ${ma.cost_usd:.4f} | {mb.tokens} / ${mb.cost_usd:.4f} |",
              f"| wall time | {ma.wall_s:.1f} s | {mb.wall_s:.1f} s |", "", "## Task by task", "",
              "| task | A status | A speedup | B status | B speedup | B / A |", "|---|---|---|---|---|---|"]
    by_a, by_b = {r.name: r for r in a}, {r.name: r for r in b}
    for name in [r.name for r in a] + [r.name for r in b if r.name not in by_a]:
        ra, rb = by_a.get(name), by_b.get(name)
        ratio = "-"
        if ra and rb and ra.correct and rb.correct and ra.speedup and rb.speedup:
            ratio = f"{rb.speedup / ra.speedup:.2f}"
        lines.append(f"| {name} | {ra.status if ra else 'absent'} | {_x(ra.speedup) if ra else '-'} | "
                     f"{rb.status if rb else 'absent'} | {_x(rb.speedup) if rb else '-'} | {ratio} |")
    changed = [n for n in by_a if n in by_b and (by_a[n].status == CORRECT) != (by_b[n].status == CORRECT)]
    if changed:
        lines += ["", "Correctness differs on: " + ", ".join(changed)]
    return "\n".join(lines) + "\n"


__all__ = ["compare_markdown", "config_line", "lists", "metrics_table", "summary_markdown", "task_table"]
