"""`akg_cli report`: a bench directory or a run directory -> summary.md, PNG plots, one self-contained HTML.

    report.md      metrics, per-task table (shapes used), flagged / declined lists
    *.png          speedup per task, speedup distribution, best-so-far against candidates evaluated
    report.html    the same, images embedded as base64: one file to mail or attach to an issue

A run directory (from `akg_cli op`) is read as a one-task bench, plus a per-candidate chart.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akg_agents.bench import plots
from akg_agents.bench.collect import task_result
from akg_agents.bench.db import BenchDB
from akg_agents.bench.metrics import TaskResult
from akg_agents.bench.tables import compare_markdown, summary_markdown
from akg_agents.errors import RunStoreError
from akg_agents.records import RunConfig
from akg_agents.store.rundir import RunStore


@dataclass
class Loaded:
    path: Path
    kind: str  # bench | run
    results: list[TaskResult]
    config: RunConfig | None
    candidate_rows: list[dict[str, Any]] = field(default_factory=list)  # run dirs only
    unfinished: int = 0

    @property
    def label(self) -> str:
        return self.path.resolve().name


def check_source(path: Path) -> None:
    """One line when PATH is neither a bench directory nor a run directory (before anything is written)."""
    if not BenchDB.exists(path) and not (path / "config.yaml").exists():
        raise RunStoreError(f"{path} is neither a bench directory (bench.db) nor a run directory (config.yaml)")


def load(path: Path) -> Loaded:
    check_source(path)
    if BenchDB.exists(path):
        db = BenchDB.open(path)
        try:
            return Loaded(path, "bench", db.results(), db.config(), unfinished=len(db.unfinished()))
        finally:
            db.close()
    from akg_agents.store.summary import summary_rows

    store = RunStore.open(path)  # a run directory (check_source)
    return Loaded(path, "run", [task_result(path)], store.config(), candidate_rows=summary_rows(store))


def write_report(path: Path, out: Path) -> list[Path]:
    loaded = load(path)
    out.mkdir(parents=True, exist_ok=True)
    note = f"{loaded.unfinished} task(s) not finished yet (resume with `akg_cli bench --resume {path}`)." \
        if loaded.unfinished else ""
    title = f"akg_agents {loaded.kind} report: {loaded.label}"
    markdown = summary_markdown(title, loaded.results, loaded.config, note)
    if loaded.kind == "run":  # the search's story: best so far per evaluation, the best kernel's lineage
        from akg_agents.store.lineage import search_markdown

        markdown += "\n" + search_markdown(path)
    images = _plots(loaded, out)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(render_html(title, markdown, images))
    return [out / "report.md", out / "report.html", *images]


def _plots(loaded: Loaded, out: Path) -> list[Path]:
    results, name = loaded.results, loaded.label
    images = []
    if loaded.kind == "run":
        images.append(plots.candidate_bars(loaded.candidate_rows, out / "candidates.png", f"{results[0].name}: every candidate"))
    else:
        images.append(plots.speedup_bars(results, out / "speedup_per_task.png", f"{name}: speedup per task"))
        if any(r.speedup_compile is not None for r in results):
            images.append(plots.speedup_bars(results, out / "speedup_vs_compile.png",
                                             f"{name}: speedup over torch.compile", compile_baseline=True))
        images.append(plots.speedup_histogram(results, out / "speedup_distribution.png", f"{name}: speedup distribution"))
    images.append(plots.best_so_far(results, out / "best_so_far.png", f"{name}: best verified speedup vs candidates evaluated"))
    return images


def write_compare(a: Path, b: Path, out: Path) -> list[Path]:
    la, lb = load(a), load(b)
    out.mkdir(parents=True, exist_ok=True)
    labels = (la.label, lb.label)
    markdown = compare_markdown(la.results, lb.results, labels)
    image = plots.compare_bars(la.results, lb.results, labels, out / "compare.png")
    (out / "compare.md").write_text(markdown)
    (out / "compare.html").write_text(render_html(f"Comparison: {labels[0]} vs {labels[1]}", markdown, [image]))
    return [out / "compare.md", out / "compare.html", image]


# -- HTML: the markdown above, rendered by a tiny converter (headings, tables, lists, paragraphs) ---

STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0;font-size:13px}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}
th{background:#f3f5f7}tr:nth-child(even){background:#fafafa}img{max-width:100%;margin:1em 0;border:1px solid #eee}
.correct{color:#2a9d4b;font-weight:600}.incorrect{color:#d1495b;font-weight:600}.declined{color:#777}
.error{color:#6a4c93;font-weight:600}code{background:#f3f3f3;padding:0 3px}
"""
_STATUS_CELL = re.compile(r"^(correct|incorrect|declined|error)( \(!\))?$")


def render_html(title: str, markdown: str, images: list[Path]) -> str:
    body: list[str] = []
    table: list[list[str]] = []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
            continue
        if table:
            body.append(_table(table))
            table = []
        if line.startswith("## "):
            body.append(f"<h2>{_inline(line[3:])}</h2>")
        elif line.startswith("# "):
            body.append(f"<h1>{_inline(line[2:])}</h1>")
        elif line.startswith("- "):
            body.append(f"<li>{_inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
    figures = "".join(f'<h2>{html.escape(p.stem.replace("_", " "))}</h2><img alt="{html.escape(p.name)}" '
                      f'src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode()}">' for p in images)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}{figures}</body></html>\n")


def _table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0])
    body = []
    for row in rows[1:]:
        cells = []
        for cell in row:
            match = _STATUS_CELL.match(cell)
            css = f' class="{match.group(1)}"' if match else ""
            cells.append(f"<td{css}>{_inline(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


__all__ = ["Loaded", "load", "render_html", "write_compare", "write_report"]
