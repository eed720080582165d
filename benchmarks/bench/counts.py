import json
import sqlite3
import sys
from pathlib import Path

root = Path(sys.argv[1])
c = sqlite3.connect(root / "bench.db")
print("tasks by state:", dict(c.execute("select state, count(*) from tasks group by state").fetchall()))
print("tasks by attempts:", dict(c.execute("select attempts, count(*) from tasks group by attempts").fetchall()))
print("started more than once:", c.execute("select name, attempts from tasks where attempts > 1").fetchall())
names = [json.loads(line)["name"] for line in (root / "results.jsonl").read_text().splitlines() if line.strip()]
print(f"results.jsonl: {len(names)} lines, {len(set(names))} distinct tasks")
dirs = {p.name: len(list(p.iterdir())) for p in (root / "runs").iterdir()}
print("run dirs per task (all 1?):", set(dirs.values()), f"over {len(dirs)} tasks")
total = dup = 0
for res in (root / "runs").glob("*/*/results.jsonl"):
    entries = [json.loads(line) for line in res.read_text().splitlines() if line.strip()]
    ids = [entry["candidate"]["id"] for entry in entries]
    total += len(ids)
    dup += len(ids) - len(set(ids))
print(f"candidate evaluations recorded: {total}, evaluated twice: {dup}")
