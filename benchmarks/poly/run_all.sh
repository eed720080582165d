#!/bin/bash
# Reproduce the PolyTOPS PolyBench results (2-core VM: about 1.5 hours for LARGE).
# Results are appended to JSONL and resumed when re-run; summaries are Markdown.
set -e
cd "$(dirname "$0")/../.."
R=benchmarks/poly/results
# 1. kernel-specific overrides (fastest correct candidate per kernel, LARGE, 2 threads)
python benchmarks/poly/tune.py --size LARGE --threads 2
# 2. correctness of every variant at MINI
akg_cli poly bench --size MINI --threads 2 --runs 1 --out $R/bench_MINI.jsonl --summary $R/summary_MINI.md
# 3. LARGE: key columns first, then the other presets, at 2 then 1 thread(s)
for T in 2 1; do
  akg_cli poly bench --size LARGE --threads $T --variants orig,override,isl,polly --out $R/bench_LARGE.jsonl
  akg_cli poly bench --size LARGE --threads $T --variants pluto_like,cpu_vectorize,isl_like,feautrier_like \
    --out $R/bench_LARGE.jsonl
done
akg_cli poly bench --size LARGE --threads 1,2 --variants orig --out $R/bench_LARGE.jsonl --summary $R/summary_LARGE.md
