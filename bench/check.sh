#!/usr/bin/env bash
# `airlock check` offline, whole-process wall time: the largest real manifests of
# testdata/manifests and a synthetic uv.lock of 500 packages that all have advisories, against
# a lane with the full PyPA database imported (and the R one for renv.lock).
#
#   bench/check.sh            (AIRLOCK_BIN=path to skip the build; RUNS=20)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
source "$ROOT/bench/lib.sh"
DATA="$ROOT/testdata"
RUNS="${RUNS:-20}"

section "set-up"
airlock_binary
cat > "$WORK/airlock.toml" <<TOML
data_dir = "$WORK/data"

[[source]]
name = "internal-pypi"
kind = "hosted"
ecosystem = "pypi"

[[source]]
name = "pypi"
kind = "proxy"
ecosystem = "pypi"
url = "http://127.0.0.1:9/simple/"

[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[lane]]
name = "prod"
mode = "open"
sources = ["internal-pypi", "pypi", "internal-cran"]
vulnerabilities = { block_at = "high" }
TOML
A=("$AIRLOCK" --config "$WORK/airlock.toml")
"${A[@]}" advisories import --init "$DATA/advisories/pypa/vulns" | tail -1
"${A[@]}" advisories import "$DATA/advisories/r/vulns" | tail -1
python3 "$ROOT/bench/check_manifest.py" make "$DATA/advisories/pypa/vulns" "$WORK/all-vulnerable/uv.lock" 500
python3 "$ROOT/bench/check_manifest.py" merge "$WORK/merged/uv.lock" \
    "$DATA"/manifests/uv.lock/*uv.lock "$DATA"/manifests/poetry.lock/*poetry.lock "$DATA"/manifests/pdm.lock/*pdm.lock "$DATA"/manifests/pylock.toml/*pylock.toml \
    "$DATA"/manifests/requirements.txt/readthedocs__readthedocs.org/requirements/testing.txt

section "airlock check --format json (offline), $RUNS runs each"
for f in "$WORK/merged/uv.lock" "$WORK/all-vulnerable/uv.lock" \
         "$DATA/manifests/poetry.lock/saleor__saleor__2022-04__poetry.lock" \
         "$DATA/manifests/uv.lock/0b01001001__spectree__uv.lock" \
         "$DATA/manifests/pdm.lock/pdm-project__pdm__pdm.lock" \
         "$DATA/manifests/renv.lock/pharmaverse__admiral__2023-09__renv.lock"; do
    n=$("${A[@]}" check "$f" --format json | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["summary"]["packages"], "packages,", sum(len(p["advisories"]) for p in r["packages"]), "advisory findings")' || true)
    printf '%-55s %s\n  ' "$(basename "$(dirname "$f")")/$(basename "$f")" "$n"
    python3 "$ROOT/bench/check_manifest.py" time "$RUNS" "${A[@]}" check "$f" --format json
done
