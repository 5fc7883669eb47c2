#!/usr/bin/env bash
# Bundles stream: the peak memory of `airlock bundle export` and `airlock bundle import` stays flat
# whatever the bundle's size. Run by hand:
#   bench/bundle.sh          FILES=48 SIZE_MB=8 AIRLOCK_BIN=target/debug/airlock bench/bundle.sh
# Uploads FILES wheels of SIZE_MB incompressible bytes to a fresh server, then exports lane dev,
# and imports the bundle into a second, fresh data directory: once with an eighth of the files,
# once with all of them. Prints each command's wall time, throughput (bundle MiB per second) and
# peak RSS (ru_maxrss) next to the bundle's size. `FILES=128 SIZE_MB=8` makes a 1 GiB bundle.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FILES="${FILES:-48}"
SIZE_MB="${SIZE_MB:-8}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools python3 bc
airlock_binary
make_workdir airlock-bundle-bench

# Runs a command and prints its peak RSS in MiB and its wall time in seconds.
peak_mib() {
    python3 -c '
import resource, subprocess, sys, time
start = time.monotonic()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)
if done.returncode:
    sys.exit(done.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, f"{time.monotonic() - start:.2f}")
' "$@"
}

upload() { # FROM TO (indices of the wheels)
    PYTHONPATH="$ROOT/bench" python3 -c '
import random, sys
from seed import upload
url, token, size_mb, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(first)
for i in range(first, last):
    upload(f"{url}/upload/internal-pypi/", token, f"bundle-bench-{i:04d}", "1.0", rng.randbytes(size_mb << 20))
' "$AIRLOCK_URL" "$TOKEN" "$SIZE_MB" "$1" "$2"
}

measure() { # NAME
    local name="$1" dir="$WORK/import-$1"
    mkdir -p "$dir"
    cat >"$dir/airlock.toml" <<TOML
[[source]]
name = "from-dev"
kind = "bundle"
ecosystem = "pypi"
trusted_keys = ["$PUBLIC"]

[[lane]]
name = "dev"
sources = ["from-dev"]
mode = "open"
TOML
    local export_mib export_s import_mib import_s size_mib
    read -r export_mib export_s < <(peak_mib "$AIRLOCK" bundle export --lane dev --key "$WORK/key.pem" \
        -o "$WORK/$name.bundle" --data-dir "$WORK/data")
    size_mib=$(( $(stat -c %s "$WORK/$name.bundle") >> 20 ))
    read -r import_mib import_s < <(peak_mib "$AIRLOCK" bundle import "$WORK/$name.bundle" --source from-dev \
        --init --data-dir "$dir/data" --config "$dir/airlock.toml")
    printf '  %-6s bundle %6d MiB   export %6.1f s %6.1f MiB/s peak RSS %5d MiB   import %6.1f s %6.1f MiB/s peak RSS %5d MiB\n' \
        "$name" "$size_mib" "$export_s" "$(echo "$size_mib / $export_s" | bc -l)" "$export_mib" \
        "$import_s" "$(echo "$size_mib / $import_s" | bc -l)" "$import_mib"
    rm -rf "$dir" "$WORK/$name.bundle"
}

section "airlock ($AIRLOCK) on a fresh data dir"
mkdir -p "$WORK/data"
TOKEN="$("$AIRLOCK" token create --init --name bench --role publisher --data-dir "$WORK/data" | tail -n1)"
PUBLIC="$("$AIRLOCK" bundle keygen -o "$WORK/key.pem" 2>/dev/null)"
start_airlock --data-dir "$WORK/data"

small=$((FILES / 8))
section "$small wheels of $SIZE_MB MiB"
upload 0 "$small"
measure small
section "$FILES wheels of $SIZE_MB MiB"
upload "$small" "$FILES"
measure large
