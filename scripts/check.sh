#!/usr/bin/env bash
# The project's one quality gate: lint, types, tests. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== ruff"
python3 -m ruff check src tests benchmarks
echo "== mypy"
python3 -m mypy
echo "== pytest"
# GPU tests skip themselves without a GPU; run them on a GPU machine with `pytest -m gpu tests/gpu`.
python3 -m pytest tests -q "$@"
