#!/bin/bash
# Reproduce the PolyTOPS PolyBench results on a 2-core VM (tuning ~25 min, MINI ~3 min,
# LARGE 2 threads ~45 min, 1 thread ~45 min).  Results are appended to JSONL and resumed
# when re-run; summaries are Markdown.  Pass --no-tune to keep the shipped overrides.
set -e
cd "$(dirname "$0")/../.."
R=benchmarks/poly/results
# 1. kernel-specific overrides (fastest correct candidate per kernel, LARGE, 2 threads)
if [ "$1" != "--no-tune" ]; then
  python benchmarks/poly/tune.py --size LARGE --threads 2 | tee $R/tune_stdout.log
fi
# 2. correctness of every variant at MINI
akg_cli poly bench --size MINI --threads 2 --runs 1 --out $R/bench_MINI.jsonl
# 3. LARGE: key columns first, then the other presets, at 2 then 1 thread(s)
for T in 2 1; do
  akg_cli poly bench --size LARGE --threads $T --variants orig,override,isl,polly --out $R/bench_LARGE.jsonl
  akg_cli poly bench --size LARGE --threads $T --variants pluto_like,cpu_vectorize,isl_like,feautrier_like \
    --out $R/bench_LARGE.jsonl
done
python benchmarks/poly/make_summary.py
