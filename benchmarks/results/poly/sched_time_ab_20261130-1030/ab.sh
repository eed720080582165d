#!/bin/bash
# usage: ab.sh ROUNDS args...   (alternates base / new)
R=$1; shift
for r in $(seq $R); do
  for side in base new; do
    if [ $side = base ]; then PP=/tmp/p16/base/src; else PP=/work/main/src; fi
    PYTHONPATH=$PP python /work/main/benchmarks/poly/sched_time.py "$@" --out /tmp/p16/ab_${side}_$r > /tmp/p16/ab_${side}_$r.log 2>&1
    echo "$side $r: $(grep '^round' /tmp/p16/ab_${side}_$r.log | awk '{s+=$6; c+=$8} END {print "total sched wall", s, "cpu", c}') $(uptime | sed 's/.*load/load/')"
  done
done
