"""Write Markdown summaries of the recorded bench results (used for REPORT.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from akg_agents.poly.bench import load
from akg_agents.poly.report import summary

R = Path("benchmarks/poly/results")

if __name__ == "__main__":
    for size, threads in (("MINI", [2]), ("LARGE", [2, 1])):
        path = R / f"bench_{size}.jsonl"
        if path.exists():
            text = summary(load(path), size, threads)
            (R / f"summary_{size}.md").write_text(text)
            print(f"wrote {R / f'summary_{size}.md'}", file=sys.stderr)
