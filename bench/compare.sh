#!/usr/bin/env bash
# Two builds of airlock side by side on the same data, on loopback: is a change within noise?
#   BEFORE=path/to/old/airlock AFTER=path/to/new/airlock bench/compare.sh
#   (AFTER defaults to this checkout's dist build; ROUNDS=5 DURATION=5s PROJECTS=2000)
#   WRITES=20: while a build is measured, it also takes that many uploads per second (new versions of
#   one project of its own, bench/trickle.py): reads under a steady stream of writes.
# One data directory is seeded with BEFORE and copied for AFTER (which migrates it forward when its
# schema is newer); both servers run at once, but only one is loaded at a time: rounds alternate
# which goes first, and the median of each row is reported with the ratio AFTER / BEFORE.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-5s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PROJECTS="${PROJECTS:-2000}"
VERSIONS="${VERSIONS:-5}"
BIG_MB="${BIG_MB:-1}"
ROUNDS="${ROUNDS:-5}"
WRITES="${WRITES:-0}"
PAGE_PROJECT="bench-pkg-0042"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ -n "${BEFORE:-}" && -x "$BEFORE" ]] || { echo "set BEFORE to an airlock binary" >&2; exit 2; }
section "tools"
ensure_tools wrk curl
AIRLOCK_BIN="${AFTER:-}" airlock_binary
AFTER="$AIRLOCK"
make_workdir airlock-compare

section "seeding $PROJECTS projects x $VERSIONS versions + one ${BIG_MB} MB wheel with $BEFORE"
AIRLOCK="$BEFORE"
mkdir -p "$WORK/before"
start_airlock --data-dir "$WORK/before"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/before" | tail -n1)"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb "$BIG_MB"
kill "$AIRLOCK_PID"
wait "$AIRLOCK_PID" 2>/dev/null || true
cp -a "$WORK/before" "$WORK/after"

start_airlock --data-dir "$WORK/before"
BEFORE_PID="$AIRLOCK_PID" BEFORE_URL="$AIRLOCK_URL"
AIRLOCK="$AFTER"
start_airlock --data-dir "$WORK/after"
AFTER_PID="$AIRLOCK_PID" AFTER_URL="$AIRLOCK_URL"
# cleanup_workdir stops AIRLOCK_PID; the other server goes with it.
trap 'kill "$BEFORE_PID" 2>/dev/null || true; cleanup_workdir' EXIT

PAGE_PATH="/dev/pypi/simple/$PAGE_PROJECT/"
ROOT_PATH="/dev/pypi/simple/"
BIG_PATH="$(wheel_path "$AFTER_URL/dev/pypi/simple/bench-big/")"
SMALL_PATH="$(wheel_path "$AFTER_URL$PAGE_PATH")"
for path in "$PAGE_PATH" "$ROOT_PATH" "$SMALL_PATH" "$BIG_PATH"; do
    cmp -s <(curl -fsS -H 'Accept: text/html' "$BEFORE_URL$path") <(curl -fsS -H 'Accept: text/html' "$AFTER_URL$path") ||
        echo "  note: the two builds answer $path with different bytes"
done

rps() { # rps BASE PATH -> requests per second (with WRITES uploads per second to BASE meanwhile)
    local trickle=
    curl -fsS -o /dev/null -H 'Accept: text/html' "$1$2"
    if ((WRITES > 0)); then
        python3 "$ROOT/bench/trickle.py" --url "$1/upload/internal-pypi/" --token "$TOKEN" \
            --rate "$WRITES" --tag "$RANDOM$RANDOM" >/dev/null &
        trickle=$!
        sleep 1
    fi
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H 'Accept: text/html' "$1$2" |
        awk '/^Requests\/sec:/ {print $2}'
    if [[ -n "$trickle" ]]; then kill "$trickle" 2>/dev/null || true; wait "$trickle" 2>/dev/null || true; fi
}

declare -A runs
labels=("project page" "root page" "small wheel" "${BIG_MB} MB wheel")
paths=("$PAGE_PATH" "$ROOT_PATH" "$SMALL_PATH" "$BIG_PATH")
section "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS rounds, alternating which build goes first, $WRITES uploads/s meanwhile"
for round in $(seq "$ROUNDS"); do
    for i in "${!paths[@]}"; do
        if ((round % 2)); then order=(before after); else order=(after before); fi
        for which in "${order[@]}"; do
            url="$BEFORE_URL"
            [[ "$which" == after ]] && url="$AFTER_URL"
            r="$(rps "$url" "${paths[$i]}")"
            runs["$which,$i"]+="$r "
            printf '  round %d  %-16s %-6s %12s req/s\n' "$round" "${labels[$i]}" "$which" "$r"
        done
    done
done

section "medians (req/s) of $ROUNDS rounds"
printf '%-16s %12s %12s %8s   %s\n' "read" "before" "after" "ratio" "runs before | after"
for i in "${!paths[@]}"; do
    python3 - "${labels[$i]}" "${runs[before,$i]}" "${runs[after,$i]}" <<'PY'
import statistics, sys
label, before, after = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
b, a = statistics.median(before), statistics.median(after)
fmt = lambda xs: " ".join(f"{x:.0f}" for x in xs)
print(f"{label:<16} {b:12.0f} {a:12.0f} {a / b:8.3f}   {fmt(before)} | {fmt(after)}")
PY
done
