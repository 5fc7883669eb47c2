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

WORK="$(mktemp -d "${TMPDIR:-/tmp}/airlock-bench.XXXXXX")"
AIRLOCK_PID=""
cleanup() {
    [[ -n "$AIRLOCK_PID" ]] && kill "$AIRLOCK_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "airlock ($AIRLOCK) on a fresh data dir"
mkdir -p "$WORK/data"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"
"$AIRLOCK" serve --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/airlock.out" 2>"$WORK/airlock.log" &
AIRLOCK_PID=$!
for _ in $(seq 600); do
    grep -q '^listening on http://' "$WORK/airlock.out" 2>/dev/null && break
    kill -0 "$AIRLOCK_PID" 2>/dev/null || { cat "$WORK/airlock.log"; echo "airlock exited" >&2; exit 1; }
    sleep 0.1
done
AIRLOCK_URL="$(sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9]*\).*#\1#p' "$WORK/airlock.out" | head -n1)"
[[ -n "$AIRLOCK_URL" ]] || { echo "airlock did not start" >&2; exit 1; }
echo "  $AIRLOCK_URL (pid $AIRLOCK_PID)"
sleep 1

section "$UPLOADERS uploaders x $FILES wheels of $SIZE_MB MB, $READERS readers"
python3 "$ROOT/bench/memory_load.py" --url "$AIRLOCK_URL" --token "$TOKEN" --pid "$AIRLOCK_PID" \
    --uploaders "$UPLOADERS" --readers "$READERS" --files "$FILES" --size-mb "$SIZE_MB" --after "$AFTER"
