"""Benches: run a suite of KernelBench-format tasks and report fast_p, correctness and speedups.

    suite.py    which tasks: bundled suite name, folder, KernelBench checkout (--level, --problems)
    run.py      run every unfinished task of a bench directory, one worker per device
    db.py       the bench directory: SQLite + JSONL, streamed as tasks finish, resumable
    collect.py  one run directory -> TaskResult (best candidate, shapes used, tokens, cost)
    metrics.py  TaskResult, fast_p, geometric-mean speedup
    tables.py   markdown tables;  plots.py  PNG plots;  report.py  report.md/html, A-vs-B compare
"""
