#!/usr/bin/env bash
# Warm reads, airlock against nginx serving the same bytes as static files, side by side in one run.
# Run by hand (as root the first time so it can `apt-get install wrk nginx`); see bench/README.md.
#
# The server under test (airlock, or nginx with one worker) is pinned to CPU SERVER_CPU (0), wrk
# (-t1 -cCONNECTIONS) to CPU CLIENT_CPU (1). Each row is measured ROUNDS (3) times as interleaved
# airlock/nginx pairs of DURATION (5s); the medians and their ratio are printed, with the p99 latency
# of each round and the median of those (in microseconds).
#
# Data: PROJECTS (2000) x VERSIONS (5) tiny wheels, a project of LONG_VERSIONS (1600) versions (a
# large page), one BIG_MB (50) MB wheel, CRAN_PACKAGES (2000) R source packages. Rows: project page
# as HTML and as PEP 691 JSON, the root list, a `.metadata` file, a small wheel, CRAN PACKAGES.gz,
# PACKAGES.gz again against nginx with sendfile off (copying from user space), the
# 50 MB wheel (MiB/s), and the large page plain and gzip-compressed (nginx: `gzip_static`, the
# same gzip bytes airlock sends). Bytes on the wire of the large page per encoding are printed too.
#
#   bench/reads.sh      ROUNDS=5 DURATION=10s bench/reads.sh      AIRLOCK_BIN=/path/to/airlock bench/reads.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-5s}"
ROUNDS="${ROUNDS:-3}"
CONNECTIONS="${CONNECTIONS:-16}"
PROJECTS="${PROJECTS:-2000}"
VERSIONS="${VERSIONS:-5}"
LONG_VERSIONS="${LONG_VERSIONS:-1600}"
BIG_MB="${BIG_MB:-50}"
CRAN_PACKAGES="${CRAN_PACKAGES:-2000}"
SERVER_CPU="${SERVER_CPU:-0}"
CLIENT_CPU="${CLIENT_CPU:-1}"
export SERVER_CPU

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk nginx curl
airlock_binary
make_workdir airlock-reads

section "airlock ($AIRLOCK) on a fresh data dir, pinned to CPU $SERVER_CPU"
mkdir -p "$WORK/data"
start_airlock --data-dir "$WORK/data"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"

section "seeding: $PROJECTS x $VERSIONS wheels, a ${BIG_MB} MB wheel, $LONG_VERSIONS versions of one project, $CRAN_PACKAGES R packages"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb "$BIG_MB"
python3 "$ROOT/bench/seed.py" --url "$AIRLOCK_URL/upload/internal-pypi/" --token "$TOKEN" \
    --prefix bench-long --projects 1 --versions "$LONG_VERSIONS" --big-mb 0
python3 "$ROOT/bench/seed_cran.py" --url "$AIRLOCK_URL/upload/internal-cran/" --token "$TOKEN" \
    --count "$CRAN_PACKAGES"

HTML='Accept: text/html'
JSON='Accept: application/vnd.pypi.simple.v1+json'
PAGE="/dev/pypi/simple/bench-pkg-$(printf %04d $((PROJECTS > 42 ? 42 : PROJECTS - 1)))/"
LONG="/dev/pypi/simple/bench-long-0000/"
WHEEL="$(wheel_path "$AIRLOCK_URL$PAGE")"
BIG="$(wheel_path "$AIRLOCK_URL/dev/pypi/simple/bench-big/")"

# Each row: label, airlock path, nginx file, request headers (|-separated), unit.
ROWS=(
    "project page, HTML|$PAGE|page.html|$HTML|req"
    "project page, JSON|$PAGE|page.json|$JSON|req"
    "root list ($PROJECTS names), HTML|/dev/pypi/simple/|root.html|$HTML|req"
    ".metadata file|$WHEEL.metadata|wheel.metadata||req"
    "small wheel|$WHEEL|small.whl||req"
    "CRAN PACKAGES.gz|/dev/cran/src/contrib/PACKAGES.gz|PACKAGES.gz||req"
    "CRAN PACKAGES.gz, nginx copying|/dev/cran/src/contrib/PACKAGES.gz|copy/PACKAGES.gz||req"
    "${BIG_MB} MB wheel|$BIG|big.whl||MiB"
    "large page ($LONG_VERSIONS versions), JSON|$LONG|long.json|$JSON|req"
    "large page, JSON, gzip|$LONG|long.json|$JSON;Accept-Encoding: gzip|req"
)

section "nginx with the same bytes as static files, pinned to CPU $SERVER_CPU"
WWW="$WORK/www"
mkdir -p "$WWW/copy"
for row in "${ROWS[@]}"; do
    IFS='|' read -r _ path file headers _ <<<"$row"
    [[ "$headers" == *Accept-Encoding* ]] && continue
    args=()
    [[ -n "$headers" ]] && args=(-H "$headers")
    curl -fsS "${args[@]}" -H 'Accept-Encoding: identity' -o "$WWW/$file" "$AIRLOCK_URL$path"
done
# The gzip bytes airlock sends, for nginx's gzip_static.
curl -fsS -H "$JSON" -H 'Accept-Encoding: gzip' -o "$WWW/long.json.gz" "$AIRLOCK_URL$LONG"
cmp -s <(gzip -dc "$WWW/long.json.gz") "$WWW/long.json" ||
    { echo "airlock's gzip page does not decompress to its plain page" >&2; exit 1; }
# Under copy/, nginx writes files from its buffers instead of sendfile(2): the
# row that serves from there tells how much of a gap is the copy into the socket sendfile avoids.
NGINX_SERVER='gzip_static on; types { application/json json; text/html html; } location /copy/ { sendfile off; }' \
    start_nginx "$WWW" "/page.html"
echo "  $NGINX_URL (pid $NGINX_PID)"

section "bytes on the wire, large page ($LONG_VERSIONS versions, JSON)"
for encoding in identity gzip zstd; do
    size="$(curl -fsS -H "$JSON" -H "Accept-Encoding: $encoding" -o /dev/null -w '%{size_download}' "$AIRLOCK_URL$LONG")"
    printf '  %-9s %9d bytes\n' "$encoding" "$size"
done

# wrk pinned to CLIENT_CPU; prints "VALUE P99" (VALUE: req/s, or MiB/s for unit MiB).
run_wrk() { # URL HEADERS UNIT
    local args=() out value p99 header
    IFS=';' read -ra hs <<<"$2"
    for header in "${hs[@]}"; do
        [[ -n "$header" ]] && args+=(-H "$header")
    done
    curl -fsS -o /dev/null "${args[@]}" "$1" # warm
    out="$(taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "${args[@]}" "$1")"
    if grep -q 'Non-2xx' <<<"$out"; then
        echo "errors from $1: $(grep 'Non-2xx' <<<"$out")" >&2
        exit 1
    fi
    if [[ "$3" == MiB ]]; then
        value="$(awk '/^Transfer\/sec:/ {v = $2; if (v ~ /GB$/) v *= 1024; else if (v ~ /KB$/) v /= 1024; else v += 0; print v}' <<<"$out")"
    else
        value="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    fi
    # wrk prints 812.00us, 1.28ms or 2.01s: in microseconds.
    p99="$(awk '$1 == "99%" {v = $2 + 0; if ($2 ~ /ms$/) v *= 1000; else if ($2 ~ /[0-9]s$/) v *= 1000000; printf "%d", v}' <<<"$out")"
    echo "$value $p99"
}

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

section "wrk -t1 -c$CONNECTIONS -d$DURATION on CPU $CLIENT_CPU, $ROUNDS interleaved rounds"
declare -A RESULTS
for round in $(seq "$ROUNDS"); do
    for i in "${!ROWS[@]}"; do
        IFS='|' read -r label path file headers unit <<<"${ROWS[$i]}"
        out="$(run_wrk "$AIRLOCK_URL$path" "$headers" "$unit")"
        read -r a ap <<<"$out"
        out="$(run_wrk "$NGINX_URL/$file" "$headers" "$unit")"
        read -r n np <<<"$out"
        RESULTS[$i,a]+="$a "
        RESULTS[$i,n]+="$n "
        RESULTS[$i,ap]+="$ap "
        RESULTS[$i,np]+="$np "
        printf '  round %d  %-42s airlock %10s  nginx %10s %s\n' "$round" "$label" "$a" "$n" "$unit"
    done
done

section "results: medians of $ROUNDS (airlock $AIRLOCK)"
printf '%-42s %12s %12s %7s %8s %9s %9s   %-34s %-34s\n' "read" "nginx" "airlock" "ratio" "unit" \
    "p99 nginx" "airlock" "p99 nginx per round (us)" "p99 airlock per round (us)"
for i in "${!ROWS[@]}"; do
    IFS='|' read -r label _ _ _ unit <<<"${ROWS[$i]}"
    # shellcheck disable=SC2086
    a="$(median ${RESULTS[$i,a]})"
    # shellcheck disable=SC2086
    n="$(median ${RESULTS[$i,n]})"
    # shellcheck disable=SC2086
    ap="$(median ${RESULTS[$i,ap]})"
    # shellcheck disable=SC2086
    np="$(median ${RESULTS[$i,np]})"
    ratio="$(awk -v a="$a" -v n="$n" 'BEGIN {printf "%.2f", a / n}')"
    printf '%-42s %12s %12s %7s %8s %9s %9s   %-34s %-34s\n' "$label" "$n" "$a" "$ratio" "$unit/s" \
        "$np" "$ap" "${RESULTS[$i,np]}" "${RESULTS[$i,ap]}"
done
