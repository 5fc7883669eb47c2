#!/usr/bin/env bash
# Benchmark of `airlock scan` (content scanning): detection rate and false positives at `high`, and
# throughput on one core. Run by hand (needs the network for the benign downloads the first time);
# everything it downloads or writes stays in .tmp/scan-bench (ignored by git) and is reused.
#
#   malicious/   samples written by bench/scan_corpus.py, one per attack pattern, both ecosystems
#   benign-pypi/ the newest wheel of the BENIGN (220) most downloaded PyPI projects and the newest
#                sdist of the first SDISTS (80) of them, files up to MAX_MB (60) (bench/scan_benign.py)
#   benign-r/    the CRAN sources Debian packages as r-cran-*, by `apt-get source --download-only`
#                (a private apt state with a deb-src line; the system's sources are not touched),
#                for the first R_PACKAGES (400) names of crates/airlock-scan/data/r-popular.txt,
#                renamed PKG_VERSION.tar.gz
#   benign-tests/ the real distributions the tests use (.tmp/real-dists, when scripts/test made it)
#   big/         a 100 MB wheel of native libraries (90 MB) and Python modules; 100 MB wheels of Python
#                modules only, each calling curl: without a URL (not parsed), and with one (the worst
#                case: every module is parsed)
#
# Knobs: BENIGN, SDISTS, MAX_MB, R_PACKAGES, AIRLOCK_BIN (a prebuilt binary; else
# target/dist/airlock, built when missing or with BUILD=1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="$ROOT/.tmp/scan-bench"
BENIGN="${BENIGN:-220}"
SDISTS="${SDISTS:-80}"
MAX_MB="${MAX_MB:-60}"
R_PACKAGES="${R_PACKAGES:-400}"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
mkdir -p "$DIR"

section "airlock"
airlock_binary

section "Malicious samples"
rm -rf "$DIR/malicious"
python3 "$ROOT/bench/scan_corpus.py" "$DIR/malicious"

section "Benign: PyPI"
python3 "$ROOT/bench/scan_benign.py" "$DIR/benign-pypi" "$BENIGN" "$SDISTS" "$MAX_MB"

section "Benign: R (Debian source packages of CRAN packages)"
APT="$DIR/apt"
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$DIR/benign-r" "$DIR/r-orig"
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" >"$APT/sources.list"
APT_OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Debug::NoLocking=1)
if [[ -z "$(ls -A "$DIR/benign-r")" ]]; then
    if apt-get "${APT_OPTS[@]}" update -qq 2>/dev/null; then
        grep -v '^#' "$ROOT/crates/airlock-scan/data/r-popular.txt" | head -n "$R_PACKAGES" | while read -r name; do
            (cd "$DIR/r-orig" && apt-get "${APT_OPTS[@]}" source --download-only -qq "r-cran-${name,,}" >/dev/null 2>&1) || true
        done
        # The upstream tarball, as CRAN published it, under R's file name.
        python3 - "$DIR/r-orig" "$DIR/benign-r" <<'PY'
import os, re, shutil, sys, tarfile
src, out = sys.argv[1:]
for f in sorted(os.listdir(src)):
    if not re.search(r"\.orig\.tar\.(gz)$", f):
        continue
    try:
        with tarfile.open(os.path.join(src, f)) as t:
            desc = next(m for m in t.getmembers() if m.name.count("/") == 1 and m.name.endswith("/DESCRIPTION"))
            fields = dict(re.findall(r"^(Package|Version):\s*(\S+)", t.extractfile(desc).read().decode("utf-8", "replace"), re.M))
        shutil.copy(os.path.join(src, f), os.path.join(out, f"{fields['Package']}_{fields['Version']}.tar.gz"))
    except Exception as e:
        print(f"  skipped {f}: {e}", file=sys.stderr)
PY
    else
        echo "  apt-get update failed: no R packages from Debian"
    fi
fi
echo "  $(ls "$DIR/benign-r" | wc -l) R source packages"

section "Benign: the tests' real distributions"
mkdir -p "$DIR/benign-tests"
if [[ -d "$ROOT/.tmp/real-dists" ]]; then
    find "$ROOT/.tmp/real-dists" -maxdepth 2 \( -name '*.whl' -o -name '*.tar.gz' \) -exec cp {} "$DIR/benign-tests/" \;
fi
echo "  $(ls "$DIR/benign-tests" | wc -l) files"

section "Detection, false positives, throughput"
python3 "$ROOT/bench/scan_report.py" "$AIRLOCK" "$DIR/malicious" "$DIR/benign-pypi" "$DIR/benign-r" "$DIR/benign-tests"

section "100 MB wheels"
mkdir -p "$DIR/big"
python3 - "$DIR/big" <<'PY'
import os, random, sys, zipfile
out = sys.argv[1]
rng = random.Random(7)
def module(command, url):
    # Holds data that compresses about 2:1. A module that runs `curl` with a URL may download and
    # run code: it is parsed; with `git`, or `curl` and no URL, it is not.
    target = "'https://example.invalid/f', " if url else ""
    body = "".join(
        f"def f_{rng.getrandbits(64):x}(x):\n    if x == '{rng.randbytes(60).hex()}':\n"
        f"        return subprocess.run(['{command}', {target}x], check=False)\n    return os.path.join('a', x)\n\n"
        for _ in range(150))
    return "import os\nimport subprocess\n\n" + body
def write(path, native_mb, target_mb, command, url=False):
    if os.path.exists(path):
        return
    with open(path + ".part", "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(native_mb):
            z.writestr(zipfile.ZipInfo(f"bigpkg/_lib{i}.so"), rng.randbytes(1 << 20), compress_type=zipfile.ZIP_STORED)
        i = 0
        while raw.tell() < target_mb * 1000000:
            z.writestr(f"bigpkg/m{i}.py", module(command, url))
            i += 1
        z.writestr("bigpkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bigpkg\nVersion: 1.0\n\n")
        z.writestr("bigpkg-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: py3-none-any\n")
    os.replace(path + ".part", path)
# Typical of a large wheel: native libraries and a few hundred modules that run processes. Then
# modules only (290 MB of source) that run curl, without and with a URL: the worst case parses
# every one.
write(os.path.join(out, "bigpkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"), 90, 100, "git")
write(os.path.join(out, "bigpkg-2.0-py3-none-any.whl"), 0, 100, "curl")
write(os.path.join(out, "bigpkg-3.0-py3-none-any.whl"), 0, 100, "curl", url=True)
PY
for wheel in "$DIR"/big/*.whl; do
    python3 - "$AIRLOCK" "$wheel" <<'PY'
import os, resource, subprocess, sys, time
airlock, wheel = sys.argv[1:]
best = None
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["taskset", "-c", "0", airlock, "scan", "--fail-at", "critical", wheel], capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    best = min(best or (cpu, wall), (cpu, wall))
print(f"  {os.path.basename(wheel)}: {os.path.getsize(wheel) / 1e6:.0f} MB in {best[0]:.2f} s of CPU ({best[1]:.2f} s wall), best of 3, one core")
PY
done
