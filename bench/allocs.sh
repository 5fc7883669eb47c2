#!/usr/bin/env bash
# Heap allocations per warm read: a count, not a timing, so it holds on a busy machine too.
#   bench/allocs.sh                         (this checkout's dist build)
#   bench/allocs.sh OLD_BINARY NEW_BINARY   (each on a copy of the same seeded data)
# Counts calls to glibc's malloc in the server (a perf uprobe: needs root and Debian's linux-perf)
# while wrk reads one URL for DURATION (2s) on CONNECTIONS (4) kept-alive connections, and divides
# by the requests wrk made. Rows: a small wheel, its `.metadata`, a project page (PEP 691 JSON), the
# root list, CRAN PACKAGES.gz. Data: PROJECTS (300) x 5 tiny wheels, 20 R source packages.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-2s}"
CONNECTIONS="${CONNECTIONS:-4}"
PROJECTS="${PROJECTS:-300}"
unset SERVER_CPU

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk curl bc
command -v perf >/dev/null || ensure_tools linux-perf
LIBC="$(ldconfig -p | awk '/libc\.so\.6 .*x86-64/ {print $NF; exit}')"
[[ -n "$LIBC" ]] || LIBC="$(ldconfig -p | awk '/libc\.so\.6/ {print $NF; exit}')"
perf probe -q -x "$LIBC" malloc 2>/dev/null || true
perf probe -l 2>/dev/null | grep -q 'probe_libc:malloc' ||
    { echo "cannot set the uprobe on $LIBC malloc (root and linux-perf needed)" >&2; exit 1; }
BINARIES=("$@")
if ((${#BINARIES[@]} == 0)); then
    airlock_binary
    BINARIES=("$AIRLOCK")
fi
make_workdir airlock-allocs

section "seeding with ${BINARIES[0]}: $PROJECTS x 5 wheels, 20 R packages"
AIRLOCK="${BINARIES[0]}"
mkdir -p "$WORK/seed"
start_airlock --data-dir "$WORK/seed"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/seed" | tail -n1)"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions 5 --big-mb 0 >/dev/null
python3 "$ROOT/bench/seed_cran.py" --url "$AIRLOCK_URL/upload/internal-cran/" --token "$TOKEN" \
    --count 20 >/dev/null
kill "$AIRLOCK_PID"
wait "$AIRLOCK_PID" 2>/dev/null || true
AIRLOCK_PID=""

JSON='Accept: application/vnd.pypi.simple.v1+json'
section "mallocs per request (wrk -t1 -c$CONNECTIONS -d$DURATION)"
printf '%-28s %-32s %10s %12s %10s\n' "binary" "read" "requests" "mallocs" "per read"
for bin in "${BINARIES[@]}"; do
    AIRLOCK="$bin"
    rm -rf "$WORK/data"
    cp -a "$WORK/seed" "$WORK/data"
    start_airlock --data-dir "$WORK/data" >/dev/null
    PAGE="/dev/pypi/simple/bench-pkg-0042/"
    WHEEL="$(wheel_path "$AIRLOCK_URL$PAGE")"
    ROWS=(
        "small wheel|$WHEEL|"
        ".metadata file|$WHEEL.metadata|"
        "project page, JSON|$PAGE|$JSON"
        "root list, JSON|/dev/pypi/simple/|$JSON"
        "CRAN PACKAGES.gz|/dev/cran/src/contrib/PACKAGES.gz|"
    )
    for row in "${ROWS[@]}"; do
        IFS='|' read -r label path header <<<"$row"
        args=()
        [[ -n "$header" ]] && args=(-H "$header")
        for _ in 1 2 3; do curl -fsS -o /dev/null "${args[@]}" "$AIRLOCK_URL$path"; done
        perf stat -x, -e probe_libc:malloc -p "$AIRLOCK_PID" -o "$WORK/stat" &
        STAT_PID=$!
        sleep 0.5
        requests="$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "${args[@]}" "$AIRLOCK_URL$path" |
            awk '/requests in/ {print $1}')"
        sleep 0.2
        kill -INT "$STAT_PID"
        wait "$STAT_PID" 2>/dev/null || true
        mallocs="$(awk -F, '/probe_libc:malloc/ {print $1}' "$WORK/stat")"
        printf '%-28s %-32s %10s %12s %10.1f\n' "$(basename "$bin")" "$label" "$requests" "$mallocs" \
            "$(echo "$mallocs / $requests" | bc -l)"
    done
    kill "$AIRLOCK_PID"
    wait "$AIRLOCK_PID" 2>/dev/null || true
    AIRLOCK_PID=""
done
