#!/bin/bash
# PolyBench with the selection protocol: a configuration per kernel chosen by measurement at
# MEDIUM (akg_cli poly bench --select-on), reported at LARGE beside the original (gcc -O3), isl,
# Polly and Pluto, every column checked against the original order.
#   bash benchmarks/poly/run_protocol.sh [KERNELS] [THREADS]     (KERNELS: comma list or all)
# Pluto: $AKG_PLUTO, else ../shared/tools/pluto (its setup.sh installs its runtime libraries).
# Polly: clang-14 with LLVMPolly; installed here from the package registry when apt can.
set -e
cd "$(dirname "$0")/../.."
KERNELS=${1:-all}
THREADS=${2:-2}
OUT=benchmarks/results/poly/protocol_$(date +%Y%m%d-%H%M%S)
if ! command -v clang-14 >/dev/null && command -v apt-get >/dev/null; then
  apt-get install -y -qq clang-14 >/dev/null || echo "clang-14 not installable: no polly column"
fi
PLUTO=${AKG_PLUTO:-../shared/tools/pluto}
PLUTO_ARG=()
if [ -x "$PLUTO/setup.sh" ]; then bash "$PLUTO/setup.sh" >/dev/null || true; fi
if [ -e "$PLUTO" ]; then PLUTO_ARG=(--pluto "$PLUTO"); fi
mkdir -p "$OUT"
{ echo "# $(date -u) $(uptime)"; echo "# akg_cli poly bench --kernels $KERNELS --select-on MEDIUM --size LARGE" \
  "--variants orig,isl,polly,pluto,selected --threads $THREADS ${PLUTO_ARG[*]}"; } > "$OUT/COMMAND.txt"
akg_cli poly bench --kernels "$KERNELS" --select-on MEDIUM --size LARGE \
  --variants orig,isl,polly,pluto,selected --threads "$THREADS" "${PLUTO_ARG[@]}" \
  --out "$OUT/bench.jsonl" --summary "$OUT/summary.md" | tee "$OUT/stdout.log"
echo "# finished $(date -u) $(uptime)" >> "$OUT/COMMAND.txt"
