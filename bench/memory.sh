#!/usr/bin/env bash
# airlock's memory under upload load, and how much of it comes back once idle. Run by hand:
#   bench/memory.sh          UPLOADERS=32 READERS=32 FILES=8 SIZE_MB=2 bench/memory.sh
# Prints VmRSS before, the peak (VmHWM), and VmRSS 5 s and 30 s after the load. See bench/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPLOADERS="${UPLOADERS:-32}"
READERS="${READERS:-32}"
FILES="${FILES:-8}"
SIZE_MB="${SIZE_MB:-2}"
AFTER="${AFTER:-5,30}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools python3
airlock_binary

make_workdir airlock-bench

section "airlock ($AIRLOCK) on a fresh data dir"
mkdir -p "$WORK/data"
TOKEN="$("$AIRLOCK" token create --init --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"
start_airlock --data-dir "$WORK/data"
sleep 1

section "$UPLOADERS uploaders x $FILES wheels of $SIZE_MB MB, $READERS readers"
python3 "$ROOT/bench/memory_load.py" --url "$AIRLOCK_URL" --token "$TOKEN" --pid "$AIRLOCK_PID" \
    --uploaders "$UPLOADERS" --readers "$READERS" --files "$FILES" --size-mb "$SIZE_MB" --after "$AFTER"
