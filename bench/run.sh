#!/usr/bin/env bash
# airlock vs nginx serving the same bytes, on loopback. Run by hand (not part of scripts/test):
#   bench/run.sh            DURATION=5s CONNECTIONS=32 PROJECTS=200 bench/run.sh
# Needs root for apt-get the first time (wrk, nginx). See bench/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PROJECTS="${PROJECTS:-2000}"
VERSIONS="${VERSIONS:-5}"
BIG_MB="${BIG_MB:-1}"
PAGE_PROJECT="bench-pkg-0042"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk nginx curl
airlock_binary

make_workdir airlock-bench

section "airlock ($AIRLOCK) on a fresh data dir"
mkdir -p "$WORK/data"
start_airlock --data-dir "$WORK/data"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"

section "seeding $PROJECTS projects x $VERSIONS versions + one ${BIG_MB} MB wheel"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb "$BIG_MB"

PAGE_PATH="/dev/pypi/simple/$PAGE_PROJECT/"
ROOT_PATH="/dev/pypi/simple/"
BIG_PATH="$(wheel_path "$AIRLOCK_URL/dev/pypi/simple/bench-big/")"

section "nginx with the same bytes as static files"
WWW="$WORK/www"
save() { # save URL-PATH FILE-UNDER-WWW
    mkdir -p "$(dirname "$WWW/$2")"
    curl -fsS -H 'Accept: text/html' -o "$WWW/$2" "$AIRLOCK_URL$1"
}
save "$PAGE_PATH" "${PAGE_PATH}index.html"
save "$ROOT_PATH" "${ROOT_PATH}index.html"
save "$BIG_PATH" "$BIG_PATH"
start_nginx "$WWW" "$PAGE_PATH"
for path in "$PAGE_PATH" "$ROOT_PATH" "$BIG_PATH"; do
    cmp -s <(curl -fsS -H 'Accept: text/html' "$AIRLOCK_URL$path") <(curl -fsS "$NGINX_URL$path") ||
        { echo "nginx does not serve the same bytes as airlock for $path" >&2; exit 1; }
done
echo "  $NGINX_URL (pid $NGINX_PID)"

section "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (client and servers share this machine's cores)"
results=()
measure() { # measure LABEL URL
    local out rps p99
    curl -fsS -o /dev/null -H 'Accept: text/html' "$2" # warm
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept: text/html' "$2")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    if grep -q 'Non-2xx' <<<"$out"; then
        rps="$rps (errors: $(awk '/Non-2xx/ {print $NF}' <<<"$out"))"
    fi
    printf '  %-34s %14s req/s   p99 %s\n' "$1" "$rps" "$p99"
    results+=("$(printf '%-34s %20s %10s' "$1" "$rps" "$p99")")
}
measure "airlock project page (HTML)" "$AIRLOCK_URL$PAGE_PATH"
measure "nginx   project page (static)" "$NGINX_URL$PAGE_PATH"
measure "airlock root page (HTML)" "$AIRLOCK_URL$ROOT_PATH"
measure "nginx   root page (static)" "$NGINX_URL$ROOT_PATH"
measure "airlock ${BIG_MB} MB wheel" "$AIRLOCK_URL$BIG_PATH"
measure "nginx   ${BIG_MB} MB wheel" "$NGINX_URL$BIG_PATH"

rss_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$AIRLOCK_PID/status")"
hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$AIRLOCK_PID/status")"

section "results ($PROJECTS projects x $VERSIONS versions; page: $PAGE_PROJECT)"
printf '%-34s %20s %10s\n' "target" "req/s" "p99"
printf '%s\n' "${results[@]}"
printf '\nairlock RSS after the runs: %d MiB (peak %d MiB)\n' $((rss_kib / 1024)) $((hwm_kib / 1024))
