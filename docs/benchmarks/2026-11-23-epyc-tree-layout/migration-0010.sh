#!/bin/bash
# Times migration 0010 on a store holding the tree of 10 million events: a demo
# store made by a binary before 0010 (schema 9), 20 synthetic workspaces of
# 500,000 leaves each added to its tree_nodes with the sqlite3 shell (20.1M nodes
# in all), then opened by a binary with 0010. Prints how long the server took to
# answer, its peak memory, and the demo workspace's checkpoint root before and
# after (they must be equal).
# Usage: migration-0010.sh <logbook binary before 0010> <logbook binary with 0010> <scratch directory>
set -euo pipefail
before=$1 after=$2 scratch=$3
export LOGBOOK_ADMIN_TOKEN=migration-timing-operator-token-0123456789
rm -rf "$scratch"; mkdir -p "$scratch"
root() { curl -s -H "Authorization: Bearer $LOGBOOK_ADMIN_TOKEN" "http://127.0.0.1:$1/v1/workspaces/demo/checkpoint" | sed -n 3p; }
wait_for() { until grep -q "http://127.0.0.1:$2" "$1"; do sleep 0.1; done; }
"$before" serve --demo --data-dir "$scratch/store" --listen 127.0.0.1:7398 > "$scratch/before.log" 2>&1 &
wait_for "$scratch/before.log" 7398
echo "root before: $(root 7398)"
kill $!; wait $! || true
sqlite3 "$scratch/store/logbook.sqlite3" "PRAGMA journal_mode = WAL;
WITH RECURSIVE ws(w) AS (SELECT 0 UNION ALL SELECT w + 1 FROM ws WHERE w < 19),
levels(l, n) AS (SELECT 0, 500000 UNION ALL SELECT l + 1, n / 2 FROM levels WHERE n > 1),
nodes(l, i, n) AS (SELECT l, 0, n FROM levels UNION ALL SELECT l, i + 1, n FROM nodes WHERE i + 1 < n)
INSERT INTO tree_nodes SELECT 'workspace-' || printf('%02d', w), l, i, randomblob(32) FROM ws, nodes ORDER BY 1, 2, 3;
PRAGMA wal_checkpoint(TRUNCATE);
SELECT 'nodes before: ' || count(*) FROM tree_nodes;"
started=$(date +%s.%N)
/usr/bin/time -f 'server: %M KB peak RSS' -o "$scratch/after.time" \
    "$after" serve --data-dir "$scratch/store" --listen 127.0.0.1:7399 > "$scratch/after.log" 2>&1 &
wait_for "$scratch/after.log" 7399
echo "answering after $(echo "$(date +%s.%N) - $started" | bc) s"
echo "root after: $(root 7399)"
pkill -f "^$after serve --data-dir $scratch/store" || true
sleep 1
cat "$scratch/after.time"
sqlite3 "$scratch/store/logbook.sqlite3" "SELECT 'schema version ' || user_version FROM pragma_user_version;
SELECT 'nodes after: ' || count(*) FROM tree_nodes;"
