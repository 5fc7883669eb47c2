#!/usr/bin/env bash
# Several airlock servers behind nginx on one PostgreSQL and one S3 bucket, all on loopback:
#   bench/scale.sh        (as root the first time: apt-get install wrk nginx postgresql-15)
# 1. a private PostgreSQL cluster, s3s-fs (the tests' S3 server, installed like scripts/test does)
#    and a static upstream index (for the proxy) served by nginx;
# 2. REPLICAS airlock servers (default 3) on them, behind nginx (least_conn);
# 3. seeds PROJECTS x VERSIONS wheels (2,000 x 5) and CRAN_PACKAGES R packages (20,000) through nginx;
# 4. reports, in one run: warm reads through nginx (project page, small wheel, PACKAGES.gz; wrk
#    -t$THREADS -c$CONNECTIONS -d$DURATION, req/s and p99) with no writes and with WRITES uploads per
#    second meanwhile; how long after an upload acknowledged by one server each other server lists
#    it; how many upstream fetches a cold proxied file asked of every server at once takes; and how
#    long until one new R package is in another server's PACKAGES.gz.
# Knobs: REPLICAS PROJECTS VERSIONS CRAN_PACKAGES WRITES DURATION CONNECTIONS THREADS AIRLOCK_BIN.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPLICAS="${REPLICAS:-3}"
PROJECTS="${PROJECTS:-2000}"
VERSIONS="${VERSIONS:-5}"
CRAN_PACKAGES="${CRAN_PACKAGES:-20000}"
WRITES="${WRITES:-20}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
PG_BIN="${AIRLOCK_PG_BIN:-/usr/lib/postgresql/15/bin}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
# shellcheck source=scripts/s3s-fs.sh
source "$ROOT/scripts/s3s-fs.sh"

section "tools"
ensure_tools wrk curl nginx
[[ -x "$PG_BIN/initdb" ]] || ensure_tools postgresql-15
airlock_binary
S3S_FS="$(s3s_fs_binary "$ROOT")"
make_workdir airlock-scale
chmod 755 "$WORK"
PIDS=()
stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -n "${PGDATA:-}" ]] && as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    cleanup_workdir
}
trap stop_all EXIT

section "PostgreSQL, S3 (s3s-fs), upstream"
if [[ "$(id -u)" -eq 0 ]]; then as_pg() { runuser -u postgres -- "$@"; }; PG_USER=postgres; else as_pg() { "$@"; }; PG_USER="$(id -un)"; fi
PGDATA="$WORK/pg"
mkdir -p "$PGDATA" && chown "$PG_USER" "$PGDATA"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --no-locale >/dev/null
PG_PORT="$(free_port)"
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/log" -w start \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300 -c fsync=off" >/dev/null
DB_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "  $DB_URL"
S3_PORT="$(free_port)"
mkdir -p "$WORK/s3/bench"
"$S3S_FS" --host 127.0.0.1 --port "$S3_PORT" --access-key bench --secret-key bench-secret "$WORK/s3" \
    >"$WORK/s3s-fs.log" 2>&1 &
PIDS+=($!)
echo "  http://127.0.0.1:$S3_PORT (s3s-fs)"
python3 -B "$ROOT/bench/proxy_upstream.py" --out "$WORK/www" --manifest "$WORK/manifest.json" \
    --projects 20 --versions 1 --big-mb 1 >/dev/null
start_nginx "$WORK/www" /simple/
UPSTREAM_URL="$NGINX_URL"
echo "  upstream $UPSTREAM_URL/simple/"

cat >"$WORK/airlock.toml" <<TOML
[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[source]]
name = "pypi"
kind = "proxy"
ecosystem = "pypi"
url = "$UPSTREAM_URL/simple/"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-pypi", "internal-cran", "pypi"]
TOML

section "$REPLICAS airlock servers"
export AIRLOCK_DATABASE_URL="$DB_URL" AIRLOCK_BLOB_STORE="s3://bench" \
    AIRLOCK_S3_ENDPOINT="http://127.0.0.1:$S3_PORT" AIRLOCK_S3_PATH_STYLE=true \
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret
URLS=()
for i in $(seq "$REPLICAS"); do
    mkdir -p "$WORK/r$i"
    "$AIRLOCK" serve --config "$WORK/airlock.toml" --data-dir "$WORK/r$i" --listen 127.0.0.1:0 \
        >"$WORK/r$i.out" 2>"$WORK/r$i.log" &
    PIDS+=($!)
    for _ in $(seq 600); do grep -q '^listening on' "$WORK/r$i.out" 2>/dev/null && break; sleep 0.1; done
    URLS+=("$(sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9]*\).*#\1#p' "$WORK/r$i.out")")
    echo "  replica $i: ${URLS[-1]}"
done
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --config "$WORK/airlock.toml" --data-dir "$WORK/r1" | tail -n1)"

LB_PORT="$(free_port)"
LB="http://127.0.0.1:$LB_PORT"
{
    [[ "$(id -u)" -eq 0 ]] && echo "user root;"
    cat <<CONF
worker_processes 1;
pid $WORK/lb.pid;
error_log $WORK/lb-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/lb-body;
    proxy_temp_path $WORK/lb-proxy;
    fastcgi_temp_path $WORK/lb-fastcgi;
    uwsgi_temp_path $WORK/lb-uwsgi;
    scgi_temp_path $WORK/lb-scgi;
    upstream airlock {
        least_conn;
$(for u in "${URLS[@]}"; do echo "        server ${u#http://};"; done)
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$LB_PORT;
        client_max_body_size 0;
        location / {
            proxy_pass http://airlock;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_request_buffering off;
        }
    }
}
CONF
} >"$WORK/lb.conf"
nginx -p "$WORK" -e "$WORK/lb-error.log" -c "$WORK/lb.conf" -g 'daemon off;' &
PIDS+=($!)
sleep 0.5
echo "  nginx (least_conn) in front: $LB"

section "seeding through nginx: $PROJECTS x $VERSIONS wheels, $CRAN_PACKAGES R packages"
python3 -B "$ROOT/bench/seed.py" --url "$LB/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions "$VERSIONS" --big-mb 1
python3 -B "$ROOT/bench/seed_cran.py" --url "$LB/upload/internal-cran/" --token "$TOKEN" \
    --count "$CRAN_PACKAGES"

PAGE="/dev/pypi/simple/bench-pkg-0042/"
SMALL="$(wheel_path "$LB$PAGE")"
PACKAGES="/dev/cran/src/contrib/PACKAGES.gz"
labels=("project page" "small wheel" "PACKAGES.gz")
paths=("$PAGE" "$SMALL" "$PACKAGES")
measure() { # measure PATH -> "req/s p99"
    # Warm on every server, not only the one nginx picks: a cold view is built once per server.
    for url in "${URLS[@]}"; do curl -fsS -o /dev/null "$url$1"; done
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$LB$1" |
        awk '/^Requests\/sec:/ {rps=$2} /^ +99%/ {p99=$2} END {print rps, p99}'
}
section "warm reads through nginx, wrk -t$THREADS -c$CONNECTIONS -d$DURATION: quiet, then $WRITES uploads/s"
declare -A quiet busy
for i in "${!paths[@]}"; do quiet[$i]="$(measure "${paths[$i]}")"; done
python3 -B "$ROOT/bench/trickle.py" --url "$LB/upload/internal-pypi/" --token "$TOKEN" --rate "$WRITES" \
    >"$WORK/trickle.out" 2>&1 &
TRICKLE=$!
sleep 1
for i in "${!paths[@]}"; do busy[$i]="$(measure "${paths[$i]}")"; done
kill "$TRICKLE" 2>/dev/null || true
wait "$TRICKLE" 2>/dev/null || true
printf '  %-14s %12s %9s %12s %9s %7s\n' read "quiet req/s" "p99" "busy req/s" "p99" ratio
for i in "${!paths[@]}"; do
    read -r qr qp <<<"${quiet[$i]}"
    read -r br bp <<<"${busy[$i]}"
    printf '  %-14s %12s %9s %12s %9s %7s\n' "${labels[$i]}" "$qr" "$qp" "$br" "$bp" \
        "$(python3 -c "print(f'{$br / $qr:.2f}')")"
done
grep -h 'trickle:' "$WORK/trickle.out" | sed 's/^ */  /' || true

section "visibility: upload through replica 1, listed by the others"
python3 -B "$ROOT/bench/scale_probe.py" visibility --via "${URLS[0]}" --others "${URLS[@]:1}" --token "$TOKEN"

section "cold proxied files asked of every server at once"
python3 -B "$ROOT/bench/scale_probe.py" single-flight --replicas "${URLS[@]}" \
    --projects proxy-pkg-0001 proxy-pkg-0002 proxy-pkg-0003

section "a $CRAN_PACKAGES-package CRAN view after one new package"
python3 -B "$ROOT/bench/scale_probe.py" cran-update --via "${URLS[0]}" --others "${URLS[@]:1}" --token "$TOKEN"
