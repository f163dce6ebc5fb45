#!/bin/bash
# The harness on a 500,000-event workload with one binary, stopped after its export:
# prints the server's threads after the ingest scenarios and before the export,
# the export and verification line, and the single events from 64 clients.
# Usage, from the checkout: export-ab.sh <logbook binary>
b=$1
s=/tmp/exp-scratch; log=$s.log; rm -rf $s $s-results
target/release/logbook-bench --logbook "$b" --events 500000 --samples 50 --postgres none \
  --sqlite-peer false --scratch $s --out $s-results > $log 2>&1 &
bench=$!
until grep -q "reads at" $log; do sleep 0.05; done
pid=$(pgrep -f "^$b serve")
t1=$(ls /proc/$pid/task | wc -l)
until grep -q "stats by action" $log; do sleep 0.05; done
t2=$(ls /proc/$pid/task | wc -l)
until grep -q "export " $log; do sleep 0.05; done
echo "$(basename $b) threads after ingest $t1, before export $t2: $(grep 'export ' $log) $(grep 'batch    1, 64' $log | cut -c30-50)"
kill $bench; sleep 0.3; pkill -f "^$b serve"; sleep 0.3
