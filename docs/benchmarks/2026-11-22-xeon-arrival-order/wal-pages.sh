#!/bin/bash
# Copies the server's database and write-ahead log 2.5 s into the single-event
# scenario of 64 clients (the server stopped with SIGSTOP while they are
# copied), for wal_pages.py.
# Usage, from the checkout: wal-pages.sh <logbook binary> <scratch directory> <copy directory>
set -euo pipefail
binary=$1 scratch=$2 copy=$3 log=$2.log
rm -rf "$scratch" "$copy"; mkdir -p "$copy"
target/release/logbook-bench --logbook "$binary" --events 1000000 --samples 50 --postgres none \
    --sqlite-peer false --scratch "$scratch" --out "$scratch-results" > "$log" 2>&1 &
bench=$!
until grep -q "batch    1,  1 clients" "$log"; do sleep 0.02; done
sleep 2.5
server=$(pgrep -f "^$binary serve" | head -1)
kill -STOP "$server"
database=$(ls -l "/proc/$server/fd" | grep -o "/[^ ]*logbook.sqlite3$" | head -1)
cp "$database" "$database-wal" "$copy/"
kill -CONT "$server"
kill "$bench"; sleep 0.5; kill "$server" 2>/dev/null || true
