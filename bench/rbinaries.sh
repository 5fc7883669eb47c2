#!/usr/bin/env bash
# Binary R packages for Linux: how long installing real packages with compiled code into an
# empty library takes from source (the lane's /cran) and from the binaries airlock built
# (/cran/__linux__/bookworm), same machine, same run; how long each build took; and how the
# queue behaves when 20 builds are asked for at once. Run by hand:
#   bench/rbinaries.sh          CONCURRENCY=1 AIRLOCK_BIN=target/debug/airlock bench/rbinaries.sh
# The packages are CRAN packages as Debian (bookworm) ships their sources: the orig tarballs of
# r-cran-*, downloaded once from deb.debian.org into .tmp/bench-r-sources/ and built there with
# `R CMD build`. They are uploaded at once to a fresh server whose target builds `ahead`
# (`[r_builds] concurrency` = CONCURRENCY, default 2), then installed with `install.packages`
# (Ncpus = 1) twice, each time into an empty library.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONCURRENCY="${CONCURRENCY:-2}"
CACHE="$ROOT/.tmp/bench-r-sources"
DEBIAN_POOL="http://deb.debian.org/debian/pool/main/r"

# Debian source package (r-cran-NAME) and upstream version of its orig tarball (bookworm's, or
# trixie's where the pool no longer holds bookworm's). 20 packages: the tidyverse's foundations
# and their dependencies; those marked * have C code.
PACKAGES=(
    "jsonlite 1.8.4+dfsg" # *
    "glue 1.6.2"          # *
    "magrittr 2.0.3"      # *
    "r6 2.5.1"
    "rlang 1.1.5"      # *
    "cli 3.6.0"        # *
    "vctrs 0.6.5"      # *
    "digest 0.6.31"    # *
    "lifecycle 1.0.4+dfsg"
    "fansi 1.0.4"      # *
    "utf8 1.2.3"       # *
    "pillar 1.10.1+dfsg"
    "tibble 3.2.1+dfsg" # *
    "pkgconfig 2.0.3"
    "crayon 1.5.2"
    "withr 2.5.0"
    "yaml 2.3.7"       # *
    "base64enc 0.1-3"  # *
    "backports 1.5.0"  # *
    "ellipsis 0.3.2"   # *
)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

section "tools"
ensure_tools python3 curl xz
command -v bwrap >/dev/null || ensure_tools bubblewrap
command -v Rscript >/dev/null || { echo "R is missing: apt-get install r-base-core" >&2; exit 1; }
airlock_binary
make_workdir airlock-rbinaries-bench

section "sources (Debian's orig tarballs, built with R CMD build)"
mkdir -p "$CACHE/tarballs"
for entry in "${PACKAGES[@]}"; do
    read -r deb version <<<"$entry"
    if compgen -G "$CACHE/tarballs/*.$deb.done" >/dev/null; then
        continue
    fi
    orig=""
    for ext in tar.gz tar.xz tar.bz2; do
        url="$DEBIAN_POOL/r-cran-$deb/r-cran-${deb}_${version}.orig.$ext"
        if curl -fsS -o "$WORK/orig.$ext" "$url" 2>/dev/null; then
            orig="$WORK/orig.$ext"
            break
        fi
    done
    [[ -n "$orig" ]] || { echo "no orig tarball for r-cran-$deb $version in $DEBIAN_POOL" >&2; exit 1; }
    rm -rf "$WORK/src" && mkdir -p "$WORK/src"
    tar -xf "$orig" -C "$WORK/src"
    description="$(find "$WORK/src" -maxdepth 2 -name DESCRIPTION | head -n1)"
    pkgdir="$(dirname "$description")"
    # Debian's repacks (+dfsg) drop built vignettes that build/vignette.rds still lists.
    rm -f "$pkgdir/build/vignette.rds"
    (cd "$CACHE/tarballs" && R CMD build --no-build-vignettes --no-manual --no-resave-data "$pkgdir" >"$WORK/build.log" 2>&1) ||
        { cat "$WORK/build.log" >&2; exit 1; }
    name="$(sed -n 's/^Package: *//p' "$description")"
    touch "$CACHE/tarballs/$name.$deb.done"
    rm -f "$orig"
done
TARBALLS=("$CACHE"/tarballs/*.tar.gz)
NAMES=()
for t in "${TARBALLS[@]}"; do
    base="$(basename "$t")"
    NAMES+=("${base%%_*}")
done
echo "  ${#TARBALLS[@]} packages: ${NAMES[*]}"

section "server (target bookworm, build = ahead, concurrency $CONCURRENCY)"
cat >"$WORK/airlock.toml" <<TOML
data_dir = "$WORK/data"

[[r_binary]]
distro = "bookworm"
build = "ahead"

[r_builds]
concurrency = $CONCURRENCY

[[source]]
name = "internal-cran"
kind = "hosted"
ecosystem = "cran"

[[lane]]
name = "dev"
mode = "open"
sources = ["internal-cran"]
TOML
mkdir -p "$WORK/data"
start_airlock --config "$WORK/airlock.toml"
TOKEN="$("$AIRLOCK" --config "$WORK/airlock.toml" token create --name bench --role admin | tail -n 1)"

section "20 builds asked at once"
start="$(date +%s.%N)"
"$AIRLOCK" publish "${TARBALLS[@]}" --source internal-cran --server "$AIRLOCK_URL" --token "$TOKEN" >/dev/null
python3 - "$AIRLOCK_URL" "$TOKEN" "$start" "${#TARBALLS[@]}" <<'PY'
import json, sys, time, urllib.request
from datetime import datetime

url, token, start, count = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])

def builds():
    req = urllib.request.Request(f"{url}/api/v1/builds?limit=1000", headers={"Authorization": f"Bearer {token}"})
    return json.load(urllib.request.urlopen(req))["builds"]

def t(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

deepest = 0
while True:
    now = builds()
    waiting = [b for b in now if b["state"] in ("queued", "building")]
    deepest = max(deepest, sum(1 for b in now if b["state"] == "queued"))
    if len(now) >= count and not waiting:
        break
    if time.time() - start > 3600:
        sys.exit("the builds did not end within an hour")
    time.sleep(0.5)
end = max(t(b["finished_at"]) for b in now)
print(f"  {'package':<12} {'version':<10} {'state':<7} {'build s':>8} {'waited s':>9}  dependencies")
for b in sorted(now, key=lambda b: t(b["started_at"])):
    waited = t(b["started_at"]) - t(b["requested_at"])
    print(f"  {b['package']:<12} {b['version']:<10} {b['state']:<7} {b['seconds']:>8.1f} {waited:>9.1f}  {len(b['dependencies'])}")
failed = [b for b in now if b["state"] != "built"]
busy = sum(b["seconds"] for b in now)
print(f"  {len(now)} builds, {len(failed)} failed; most queued at once: {deepest}")
print(f"  wall time from the uploads to the last build: {end - start:.1f} s; build time summed: {busy:.1f} s")
for b in failed:
    print(f"  FAILED {b['package']}: {b.get('reason')}")
if failed:
    sys.exit(1)
PY

section "install.packages into an empty library: from source, then from binaries"
install() { # REPOS LIB NAME -> seconds
    mkdir -p "$2"
    local names
    names="$(printf '"%s",' "${NAMES[@]}")"
    /usr/bin/time -f '%e' -o "$WORK/time" Rscript --vanilla -e "
      options(warn = 1)
      install.packages(c(${names%,}), repos = '$1', lib = '$2', type = 'source', Ncpus = 1)
      missing <- setdiff(c(${names%,}), rownames(installed.packages(lib.loc = '$2')))
      if (length(missing)) { message('NOT INSTALLED: ', paste(missing, collapse = ', ')); quit(status = 1) }
    " >"$WORK/install-$3.log" 2>&1 || { cat "$WORK/install-$3.log" >&2; exit 1; }
    cat "$WORK/time"
}
export R_AVAILABLE_PACKAGES_CACHE_CONTROL_MAX_AGE=0
from_source="$(install "$AIRLOCK_URL/dev/cran" "$WORK/lib-source" source)"
echo "  from source:   ${from_source} s"
from_binaries="$(install "$AIRLOCK_URL/dev/cran/__linux__/bookworm" "$WORK/lib-binary" binary)"
echo "  from binaries: ${from_binaries} s"
echo "  R installed $(grep -c 'installing \*source\* package' "$WORK/install-source.log") source packages, then" \
    "$(grep -c 'installing \*binary\* package' "$WORK/install-binary.log") binary packages" \
    "and $(grep -c 'installing \*source\* package' "$WORK/install-binary.log") source packages"
python3 -c "import sys; print(f'  binaries are {float(sys.argv[1]) / float(sys.argv[2]):.1f}x faster')" "$from_source" "$from_binaries"
