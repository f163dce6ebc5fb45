#!/bin/bash
# The server's CPU time and bytes written to storage while the harness sends
# single events from 64 clients (its second ingest scenario, 20,000 events),
# read from /proc/<pid>/stat and /proc/<pid>/io at the scenario's start and end;
# the harness is stopped after that scenario.
# Usage, from the checkout: singles-io.sh <logbook binary> <scratch directory>
set -euo pipefail
binary=$1 scratch=$2 log=$2.log
rm -rf "$scratch"
target/release/logbook-bench --logbook "$binary" --events 1000000 --samples 50 --postgres none \
    --sqlite-peer false --scratch "$scratch" --out "$scratch-results" > "$log" 2>&1 &
bench=$!
until grep -q "batch    1,  1 clients" "$log"; do sleep 0.02; done
server=$(pgrep -f "^$binary serve" | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
written() { awk '/^write_bytes/ {print $2}' "/proc/$server/io"; }
cpu_before=$(cpu) written_before=$(written)
until grep -q "batch    1, 64 clients" "$log"; do sleep 0.02; done
cpu_after=$(cpu) written_after=$(written)
echo "$(grep 'batch    1, 64' "$log") server CPU $((cpu_after - cpu_before)) ticks of 10 ms," \
    "$(((written_after - written_before) / 1000000)) MB written"
kill "$bench"; sleep 0.5; kill "$server" 2>/dev/null || true
