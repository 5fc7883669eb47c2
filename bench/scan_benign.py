#!/usr/bin/env python3
"""Downloads the benign corpus of bench/scan.sh: for the most downloaded PyPI projects (the list
airlock-scan embeds, crates/airlock-scan/data/pypi-top.txt, in order), the newest wheel of each
(pure-Python or manylinux x86_64 first) and, for the first SDISTS of them, the newest sdist too,
skipping files over MAX_MB. Files come from PyPI's JSON simple API (PEP 691), which gives each
file's size before downloading it. Idempotent: files already there are kept.

Usage: scan_benign.py OUT_DIR COUNT SDISTS MAX_MB"""

import concurrent.futures
import json
import os
import sys
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCEPT = "application/vnd.pypi.simple.v1+json"


def get(url):
    req = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": "airlock-bench"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.read()


def wheel_rank(filename):
    if filename.endswith("-none-any.whl"):
        return 0
    if "manylinux" in filename and "x86_64" in filename and ("cp312" in filename or "abi3" in filename):
        return 1
    if "manylinux" in filename and "x86_64" in filename:
        return 2
    return 3


def choose(name, want_sdist, max_bytes):
    page = json.loads(get(f"https://pypi.org/simple/{name}/"))
    files = [f for f in page.get("files", []) if not f.get("yanked") and f.get("upload-time")]
    files = [f for f in files if (f.get("size") or 0) <= max_bytes]
    chosen = []
    wheels = [f for f in files if f["filename"].endswith(".whl")]
    if wheels:
        newest = max(f["upload-time"] for f in wheels)
        # The files of the newest upload day, the best-ranked one.
        day = [f for f in wheels if f["upload-time"][:10] == newest[:10]]
        chosen.append(min(day, key=lambda f: (wheel_rank(f["filename"]), f["filename"])))
    sdists = [f for f in files if f["filename"].endswith((".tar.gz", ".zip"))]
    if sdists and (want_sdist or not wheels):
        chosen.append(max(sdists, key=lambda f: f["upload-time"]))
    return chosen


def fetch(out, name, want_sdist, max_bytes):
    got = []
    try:
        for f in choose(name, want_sdist, max_bytes):
            path = os.path.join(out, f["filename"])
            if not os.path.exists(path):
                data = get(f["url"])
                with open(path + ".part", "wb") as w:
                    w.write(data)
                os.replace(path + ".part", path)
            got.append(f["filename"])
    except Exception as e:  # a project that cannot be fetched is left out, and said so
        print(f"  skipped {name}: {e}", file=sys.stderr)
    return got


def main():
    out, count, sdists, max_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(ROOT, "crates/airlock-scan/data/pypi-top.txt")) as f:
        names = [line.strip() for line in f if line.strip()][:count]
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: fetch(out, names[i], i < sdists, max_mb << 20), range(len(names))))
    print(f"{sum(len(r) for r in results)} benign files for {sum(1 for r in results if r)} of {len(names)} projects in {out}")


if __name__ == "__main__":
    main()
