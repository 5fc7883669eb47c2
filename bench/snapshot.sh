#!/usr/bin/env bash
# Snapshot reads versus the live lane, on loopback: a project page, the root page and
# PACKAGES.gz of `dev`, and the same through `/dev/{instant}/…` (an instant between two uploads),
# with the whole PyPA advisory database imported. Cold (first request after the cache was
# dropped) one request at a time, the first request of new instants (which builds that
# instant's advisory index), then warm with wrk.
#   bench/snapshot.sh        (AIRLOCK_BIN=path skips the build; PROJECTS, R_PACKAGES, DURATION)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10s}"
PROJECTS="${PROJECTS:-1000}"
R_PACKAGES="${R_PACKAGES:-1000}"
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools wrk curl python3
airlock_binary
make_workdir airlock-snap

mkdir -p "$WORK/data"
start_airlock --data-dir "$WORK/data"
URL="$AIRLOCK_URL"
TOKEN="$("$AIRLOCK" token create --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"

section "seeding $PROJECTS Python projects x 3 versions and $R_PACKAGES R packages"
python3 "$ROOT/bench/seed.py" --url "$URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects "$PROJECTS" --versions 3 --big-mb 0.01 >/dev/null
python3 - "$URL/upload/internal-cran/" "$TOKEN" "$R_PACKAGES" "$ROOT/bench" <<'PY'
import base64, concurrent.futures, io, sys, tarfile, urllib.request
url, token, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from seed import multipart
auth = "Basic " + base64.b64encode(f"__token__:{token}".encode()).decode()
def tarball(name, version):
    description = (f"Package: {name}\nVersion: {version}\nTitle: Bench\nDescription: Bench.\n"
                   f"License: MIT\nImports: stats\nAuthor: a\nMaintainer: a <a@b.c>\n").encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{name}/DESCRIPTION"); info.size = len(description)
        tar.addfile(info, io.BytesIO(description))
    return f"{name}_{version}.tar.gz", out.getvalue()
def send(i):
    filename, content = tarball(f"benchR{i}", "1.0.0")
    ctype, body = multipart({}, filename, content)
    urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST",
        headers={"Content-Type": ctype, "Authorization": auth}), timeout=60).read()
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    list(pool.map(send, range(count)))
PY
"$AIRLOCK" advisories import --data-dir "$WORK/data" "$ROOT/testdata/advisories/pypa/vulns" | tail -n1
INSTANT="$(python3 -c 'import datetime; print(datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z"))')"
sleep 0.1
python3 "$ROOT/bench/seed.py" --url "$URL/upload/internal-pypi/" --token "$TOKEN" \
    --projects 1 --versions 4 --big-mb 0.01 >/dev/null 2>&1 || true
echo "  snapshot instant $INSTANT"

PAGE="pypi/simple/bench-pkg-0042/"
section "cold: first request after a write dropped the caches (median of 5, one request at a time)"
python3 - "$URL" "$INSTANT" "$AIRLOCK" "$WORK/data" "$PAGE" <<'PY'
import statistics, subprocess, sys, time, urllib.request
url, instant, airlock, data, page = sys.argv[1:6]
def get(path):
    start = time.perf_counter()
    urllib.request.urlopen(urllib.request.Request(url + path, headers={"Accept": "text/html"})).read()
    return (time.perf_counter() - start) * 1000
for label, path in [("project page", page), ("root page", "pypi/simple/"), ("PACKAGES.gz", "cran/src/contrib/PACKAGES.gz")]:
    live, snap = [], []
    for i in range(5):
        # A write (a token) moves the revision: every cached view is dropped.
        subprocess.run([airlock, "token", "create", "--name", f"t{label[:3]}{i}", "--role", "reader", "--data-dir", data], capture_output=True, check=True)
        time.sleep(1.2)  # the server polls the revision every second
        live.append(get(f"/dev/{path}"))
        snap.append(get(f"/dev/{instant}/{path}"))
    print(f"  {label:<13} live {statistics.median(live):7.2f} ms   snapshot {statistics.median(snap):7.2f} ms")
PY

section "the first request of a new instant, then another page of it (one request at a time)"
python3 - "$URL" <<'PY'
import datetime, sys, time, urllib.request
url = sys.argv[1]
def get(path):
    start = time.perf_counter()
    urllib.request.urlopen(urllib.request.Request(url + path, headers={"Accept": "text/html"})).read()
    return (time.perf_counter() - start) * 1000
for i in range(3):
    then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=1 + i)
    instant = then.isoformat().replace("+00:00", "Z")
    first = get(f"/dev/{instant}/pypi/simple/bench-pkg-0001/")
    other = get(f"/dev/{instant}/pypi/simple/bench-pkg-0002/")
    print(f"  instant {i + 1}: first page {first:7.2f} ms   another page of it {other:7.2f} ms")
PY

section "warm: wrk -t2 -c32 -d$DURATION"
measure() {
    local out
    out="$(wrk -t2 -c32 -d"$DURATION" --latency -H 'Accept: text/html' "$2")"
    printf '  %-34s %10s req/s   p99 %s\n' "$1" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")"
}
measure "live project page" "$URL/dev/$PAGE"
measure "snapshot project page" "$URL/dev/$INSTANT/$PAGE"
measure "live PACKAGES.gz" "$URL/dev/cran/src/contrib/PACKAGES.gz"
measure "snapshot PACKAGES.gz" "$URL/dev/$INSTANT/cran/src/contrib/PACKAGES.gz"
