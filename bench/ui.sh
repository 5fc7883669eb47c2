#!/usr/bin/env bash
# Server-side render time of the web interface's search and package pages on a large repository:
#   bench/ui.sh                  PROJECTS=10000 VERSIONS=2 DURATION=5s bench/ui.sh
# Seeds PROJECTS x VERSIONS tiny wheels through the upload API, then loads each page with wrk on one
# connection (each request waits for the previous one: the latency is the page's time in the server
# plus loopback) and prints the median and p99 per page, next to a static nginx reference serving
# the same search page's bytes. Needs root the first time (apt-get install wrk nginx).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-5s}"
PROJECTS="${PROJECTS:-10000}"
VERSIONS="${VERSIONS:-2}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk nginx curl
airlock_binary
make_workdir airlock-ui-bench

section "airlock ($AIRLOCK) with $PROJECTS projects x $VERSIONS versions"
mkdir -p "$WORK/data"
start_airlock --data-dir "$WORK/data"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb 1

declare -A PAGES=(
    ["search, prefix (bench-pkg-00)"]="/ui/packages?q=bench-pkg-00"
    ["search, a typo away (bnech-pkg-0042)"]="/ui/packages?q=bnech-pkg-0042"
    ["search, every package, page 40"]="/ui/packages?page=40"
    ["package page (bench-pkg-0042)"]="/ui/packages/pypi/bench-pkg-0042"
)

section "nginx serving the prefix search page's bytes as a static file"
mkdir -p "$WORK/www/static"
curl -fsS -o "$WORK/www/static/search.html" "$AIRLOCK_URL/ui/packages?q=bench-pkg-00"
start_nginx "$WORK/www" "/static/search.html"

measure() { # measure LABEL URL
    curl -fsS -o /dev/null "$2" # warm: the name index is built once per epoch
    wrk -t1 -c1 -d"$DURATION" --latency "$2" |
        awk -v label="$1" '$1 == "50%" {p50 = $2} $1 == "99%" {p99 = $2} /^Requests\/sec:/ {rps = $2}
            END {printf "  %-42s p50 %9s   p99 %9s   %10s req/s\n", label, p50, p99, rps}'
}

section "one connection, $DURATION each"
for label in "${!PAGES[@]}"; do
    measure "$label" "$AIRLOCK_URL${PAGES[$label]}"
done
measure "nginx: the same search page, static" "$NGINX_URL/static/search.html"
