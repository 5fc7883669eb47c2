#!/usr/bin/env bash
# airlock as a pull-through proxy of a Python index, on loopback. Run by hand (not part of scripts/test):
#   bench/proxy.sh            DURATION=5s PROJECTS=50 COLD_FILES=20 bench/proxy.sh
# Upstream: a static PEP 503 index (bench/proxy_upstream.py) served by nginx. Cold paths are timed one
# request at a time (bench/proxy_client.py), warm paths with wrk. Needs root for apt-get the first time
# (wrk, nginx). See bench/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-64}"
THREADS="${THREADS:-2}"
PROJECTS="${PROJECTS:-200}"
VERSIONS="${VERSIONS:-5}"
BIG_MB="${BIG_MB:-1}"
COLD_PAGES="${COLD_PAGES:-$PROJECTS}"
COLD_FILES="${COLD_FILES:-100}"
TTL="${TTL:-10m}"
# Upstream and airlock are both on 127.0.0.1: keep any configured HTTP proxy out of the way.
export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk nginx curl python3
airlock_binary

make_workdir airlock-proxy-bench

section "upstream: static PEP 503 index, $PROJECTS projects x $VERSIONS versions + one ${BIG_MB} MB wheel"
python3 -B "$ROOT/bench/proxy_upstream.py" --out "$WORK/www" --manifest "$WORK/manifest.json" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb "$BIG_MB"

start_nginx "$WORK/www" /simple/
echo "  $NGINX_URL/simple/ (pid $NGINX_PID)"

section "airlock: hosted internal-pypi + proxy pypi -> $NGINX_URL/simple/ (ttl $TTL), lane dev"
mkdir -p "$WORK/data"
cat >"$WORK/airlock.toml" <<TOML
[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[source]]
name = "pypi"
kind = "proxy"
ecosystem = "pypi"
url = "$NGINX_URL/simple/"
ttl = "$TTL"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi", "pypi"]
TOML
start_airlock --config "$WORK/airlock.toml" --data-dir "$WORK/data" --database-url "${DATABASE_URL:-sqlite://$WORK/data/airlock.db}"
curl -fsS -o /dev/null "$AIRLOCK_URL/healthz" || { echo "airlock's /healthz fails" >&2; exit 1; }

proxy_counter() { # proxy_counter NAME: the value of airlock_proxy_NAME(_total) on /metrics
    curl -fsS "$AIRLOCK_URL/metrics" | awk -v n="airlock_proxy_$1" '$1 == n || $1 == n "_total" {print $2; f=1} END {if (!f) print "?"}'
}

section "cold paths: first requests, one at a time (bench/proxy_client.py)"
python3 -B "$ROOT/bench/proxy_client.py" --airlock "$AIRLOCK_URL" --upstream "$NGINX_URL/simple/" \
    --manifest "$WORK/manifest.json" --pages "$COLD_PAGES" --files "$COLD_FILES" \
    --paths-out "$WORK/paths.env" --json-out "$WORK/cold.json" | tee "$WORK/cold.txt"
# shellcheck disable=SC1091
source "$WORK/paths.env"
page_fetches="$(proxy_counter page_fetches)"
file_fetches="$(proxy_counter file_fetches)"
upstream_errors="$(proxy_counter upstream_errors)"
echo "  upstream requests so far: $page_fetches pages, $file_fetches files, $upstream_errors errors"
[[ "$upstream_errors" == 0 ]] || { echo "airlock counted upstream errors during the cold phase" >&2; exit 1; }
if [[ "$page_fetches" != "$EXPECTED_PAGE_FETCHES" || "$file_fetches" != "$EXPECTED_FILE_FETCHES" ]]; then
    echo "  warning: expected $EXPECTED_PAGE_FETCHES page and $EXPECTED_FILE_FETCHES file fetches" >&2
fi

# Both paths must deliver the same file before wrk counts anything; pages differ by design (airlock
# rewrites file URLs to its own), so for them both must answer 200 and list the same files (checked above).
cmp -s <(curl -fsS "$AIRLOCK_URL$BIG_PATH") <(curl -fsS "$NGINX_URL$UPSTREAM_BIG_PATH") ||
    { echo "airlock and nginx do not serve the same bytes for the big wheel" >&2; exit 1; }
curl -fsS -o /dev/null -H 'Accept: text/html' "$AIRLOCK_URL$PAGE_PATH"
curl -fsS -o /dev/null "$NGINX_URL$UPSTREAM_PAGE_PATH"

section "warm paths: wrk -t$THREADS -c$CONNECTIONS -d$DURATION (client and servers share this machine's cores)"
results=()
measure() { # measure LABEL URL
    local out rps p99 errors
    curl -fsS -o /dev/null -H 'Accept: text/html' "$2" # warm, and fail early on an error status
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'Accept: text/html' "$2")"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    errors="$(awk '/Non-2xx/ {print $NF} /^  Socket errors/ {print "socket:" $0}' <<<"$out" | paste -sd' ')"
    [[ -n "$errors" ]] && rps="$rps (errors: $errors)"
    printf '  %-40s %14s req/s   p99 %s\n' "$1" "$rps" "$p99"
    results+=("$(printf '  %-40s %14s %10s' "$1" "$rps" "$p99")")
}
measure "airlock project page (proxied, cached)" "$AIRLOCK_URL$PAGE_PATH"
measure "nginx   upstream page (static)" "$NGINX_URL$UPSTREAM_PAGE_PATH"
measure "airlock ${BIG_MB} MB wheel (proxied, cached)" "$AIRLOCK_URL$BIG_PATH"
measure "nginx   ${BIG_MB} MB wheel (static)" "$NGINX_URL$UPSTREAM_BIG_PATH"

rss_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$AIRLOCK_PID/status")"
hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$AIRLOCK_PID/status")"
after_pages="$(proxy_counter page_fetches)"
after_files="$(proxy_counter file_fetches)"

section "results ($PROJECTS projects x $VERSIONS versions upstream; page ${PAGE_PATH}; ttl $TTL)"
cat "$WORK/cold.txt"
echo
printf '  %-40s %14s %10s\n' "wrk -t$THREADS -c$CONNECTIONS -d$DURATION" "req/s" "p99"
printf '%s\n' "${results[@]}"
printf '\n  upstream requests: %s pages, %s files during the cold phase; %s more during wrk\n' \
    "$page_fetches" "$file_fetches" "$(( ${after_pages/\?/0} + ${after_files/\?/0} - ${page_fetches/\?/0} - ${file_fetches/\?/0} ))"
printf '  airlock RSS after the runs: %d MiB (peak %d MiB)\n' $((rss_kib / 1024)) $((hwm_kib / 1024))
