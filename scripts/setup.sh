#!/usr/bin/env bash
# Install akg_agents and everything it needs on a fresh machine (Python >= 3.10, gcc, pip).
set -euo pipefail
cd "$(dirname "$0")/.."
# The CPU build of torch first: with it installed, the project's `torch>=2.4` pulls nothing more
# (no multi-GB CUDA wheels). On machines with a GPU build already installed this is a no-op.
if ! python3 -c "import torch" 2>/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check torch==2.13.0
fi
python3 -m pip install --quiet --disable-pip-version-check -e ".[dev]"
# pyenv installs console scripts behind shims that need a rehash to appear on PATH.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
command -v g++ >/dev/null || { echo "setup: g++ is required for the cpp DSL (apt-get install g++)" >&2; exit 1; }
