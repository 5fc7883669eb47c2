# Shared by the bench/*.sh scripts (sourced, not run): tools, the airlock binary, free ports and a
# private nginx on loopback. Expects ROOT (the repository) and WORK (a temporary directory).

section() { printf '\n==== %s ====\n' "$*"; }

# Installs (apt, as root) whichever of the given commands are missing.
ensure_tools() {
    local missing=() tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    ((${#missing[@]})) || return 0
    echo "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts the packaged nginx (port 80) on install where it can; the benchmarks run their own.
    if [[ " ${missing[*]} " == *" nginx "* && -f /run/nginx.pid ]]; then
        nginx -s quit 2>/dev/null || true
    fi
}

# Sets AIRLOCK: $AIRLOCK_BIN if given (no build), else the binary as shipped (the `dist` profile:
# release with cross-crate thin LTO, as the container image builds it), built when missing or when
# BUILD is set.
airlock_binary() {
    if [[ -n "${AIRLOCK_BIN:-}" ]]; then
        AIRLOCK="$AIRLOCK_BIN"
    else
        AIRLOCK="${CARGO_TARGET_DIR:-$ROOT/target}/dist/airlock"
        if [[ ! -x "$AIRLOCK" || -n "${BUILD:-}" ]]; then
            (cd "$ROOT" && cargo build --profile dist -p airlock-cli)
        fi
    fi
    [[ -x "$AIRLOCK" ]] || { echo "no airlock binary at $AIRLOCK" >&2; exit 1; }
    echo "  airlock: $AIRLOCK (built $(date -r "$AIRLOCK" '+%F %T'))"
}

# Makes WORK, a temporary directory named after $1, and a trap that stops the servers started
# (AIRLOCK_PID, NGINX_PID), shows the end of airlock's log when the run failed, and removes WORK.
make_workdir() {
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")"
    AIRLOCK_PID=""
    NGINX_PID=""
    trap cleanup_workdir EXIT
    trap 'exit 130' INT TERM
}

cleanup_workdir() {
    local status=$?
    if ((status != 0)) && [[ -s "$WORK/airlock.log" ]]; then
        echo "---- last lines of airlock's log ----" >&2
        tail -n 20 "$WORK/airlock.log" >&2 || true
    fi
    [[ -n "$AIRLOCK_PID" ]] && kill "$AIRLOCK_PID" 2>/dev/null || true
    [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}

# Starts `airlock serve` with the arguments given (plus a loopback port chosen by the kernel), its
# stdout in $WORK/airlock.out and its log in $WORK/airlock.log, and waits until it listens. Sets
# AIRLOCK_PID and AIRLOCK_URL.
# With SERVER_CPU set, the server runs pinned to that CPU (as nginx does, see start_nginx).
start_airlock() {
    local pin=()
    [[ -n "${SERVER_CPU:-}" ]] && pin=(taskset -c "$SERVER_CPU")
    "${pin[@]}" "$AIRLOCK" serve "$@" --listen 127.0.0.1:0 >"$WORK/airlock.out" 2>"$WORK/airlock.log" &
    AIRLOCK_PID=$!
    for _ in $(seq 600); do
        grep -q '^listening on http://' "$WORK/airlock.out" 2>/dev/null && break
        kill -0 "$AIRLOCK_PID" 2>/dev/null || { cat "$WORK/airlock.log"; echo "airlock exited" >&2; exit 1; }
        sleep 0.1
    done
    AIRLOCK_URL="$(sed -n 's#^listening on \(http://127\.0\.0\.1:[0-9]*\).*#\1#p' "$WORK/airlock.out" | head -n1)"
    [[ -n "$AIRLOCK_URL" ]] || { echo "airlock did not start" >&2; exit 1; }
    echo "  $AIRLOCK_URL (pid $AIRLOCK_PID)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Serves directory $1 as static files with nginx on a free loopback port and waits until path $2
# answers. Sets NGINX_PORT, NGINX_URL and NGINX_PID. With SERVER_CPU set, one worker pinned to
# that CPU; NGINX_SERVER adds lines to the server block (e.g. `gzip_static on;`).
start_nginx() {
    local www="$1" probe="$2" user_line="" workers="auto" pin=()
    if [[ -n "${SERVER_CPU:-}" ]]; then
        workers=1
        pin=(taskset -c "$SERVER_CPU")
    fi
    NGINX_PORT="$(free_port)"
    NGINX_URL="http://127.0.0.1:$NGINX_PORT"
    mkdir -p "$WORK/nginx"
    [[ "$(id -u)" -eq 0 ]] && user_line="user root;"
    cat >"$WORK/nginx/nginx.conf" <<CONF
$user_line
worker_processes $workers;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types { text/html html; }
    default_type application/octet-stream;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $www;
        ${NGINX_SERVER:-}
    }
}
CONF
    "${pin[@]}" nginx -p "$WORK/nginx" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -g 'daemon off;' &
    NGINX_PID=$!
    for _ in $(seq 100); do
        curl -fsS -o /dev/null "$NGINX_URL$probe" 2>/dev/null && return 0
        kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx/error.log" >&2; echo "nginx exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "nginx does not answer on $NGINX_URL$probe" >&2
    exit 1
}

# The path of the first wheel the PEP 691 page at URL $1 lists.
wheel_path() {
    python3 - "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
page_url = sys.argv[1]
request = urllib.request.Request(page_url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
page = json.load(urllib.request.urlopen(request))
wheel = next(f for f in page["files"] if f["filename"].endswith(".whl"))
print(urllib.parse.urlsplit(urllib.parse.urljoin(page_url, wheel["url"])).path)
PY
}
