#!/bin/bash
# Runs the harness on 600,000 events over two workspaces (the first holds
# 300,005 of them) and keeps the export, checkpoint and key that it hands to
# `logbook verify`, which its scratch folder would otherwise delete.
# Usage, from the checkout: keep-export.sh <logbook binary> <folder to keep them in>
set -euo pipefail
binary=$1 keep=$2
mkdir -p "$keep" "$keep.scratch"
target/release/logbook-bench --logbook "$binary" --events 600000 --workspaces 2 --samples 20 \
    --postgres none --sqlite-peer false --scratch "$keep.scratch" --out "$keep.results" > "$keep.log" 2>&1 &
bench=$!
until line=$(ps -eo args | grep -F "$binary verify" | grep -v grep | head -1) && [ -n "$line" ]; do
    kill -0 "$bench" 2>/dev/null || { echo "the harness ended before verifying" >&2; exit 1; }
    sleep 0.02
done
export=$(sed 's/.*--export \([^ ]*\).*/\1/' <<< "$line")
checkpoint=$(sed 's/.*--checkpoint \([^ ]*\).*/\1/' <<< "$line")
ln "$export" "$keep/export.ndjson"
ln "$checkpoint" "$keep/export.checkpoint"
sed 's/.*--key \([^ ]*\).*/\1/' <<< "$line" > "$keep/key"
wait "$bench"
grep -E "export|offline" "$keep.log" | head -1
