#!/bin/bash
# Times `logbook verify` of one kept export (keep-export.sh) with each binary
# in turn, for a number of rounds: elapsed seconds, then user and system CPU.
# Usage: verify-ab.sh <kept folder> <rounds> <binary>...
set -euo pipefail
keep=$1 rounds=$2
shift 2
for round in $(seq "$rounds"); do
    for binary in "$@"; do
        /usr/bin/time -f "$(basename "$binary") %e s elapsed, %U s user, %S s system" "$binary" verify \
            --export "$keep/export.ndjson" --checkpoint "$keep/export.checkpoint" --key "$(cat "$keep/key")" \
            > /dev/null
    done
done 2>&1
