#!/bin/bash
# Single events from 64 clients with each binary in turn: the harness runs on a
# workload of 200,000 events and is stopped after that scenario (20,000 events);
# prints the scenario's line (events/s, server CPU and bytes written an event).
# Usage, from the checkout: singles-ab.sh <rounds> <logbook binary>...
set -uo pipefail
rounds=$1; shift
for r in $(seq 1 $rounds); do
  for b in "$@"; do
    s=${SCRATCH:-/tmp}/singles-ab-scratch; log=$s.log; rm -rf $s
    target/release/logbook-bench --logbook "$b" --events 200000 --samples 20 --postgres none \
      --sqlite-peer false --scratch $s --out $s-results > $log 2>&1 &
    bench=$!
    until grep -q "batch    1, 64 clients" $log; do sleep 0.05; if ! kill -0 $bench 2>/dev/null; then break; fi; done
    echo "$r $(basename $b) $(grep 'batch    1, 64' $log)"
    kill $bench 2>/dev/null; sleep 0.3; pkill -f "^$b serve" ; sleep 0.3
  done
done
