#!/usr/bin/env python3
"""Runs `airlock scan --format json` over the corpus of bench/scan.sh and prints the figures:
detection rate at high on the malicious samples (labels.tsv), false-positive rate at high on the
benign files (every false positive listed with its findings), and throughput on one core.

Usage: scan_report.py AIRLOCK MALICIOUS_DIR BENIGN_DIR..."""

import json
import os
import resource
import subprocess
import sys
import time

HIGH = {"high", "critical"}


def files_in(directory):
    return sorted(
        os.path.join(directory, f)
        for f in os.listdir(directory)
        if f.endswith((".whl", ".tar.gz", ".zip"))
    )


def scan(airlock, files, pin):
    """Reports by path, errors, and the (CPU, wall) seconds of one `airlock scan` process."""
    cmd = [airlock, "scan", "--format", "json", *files]
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + system): on a shared machine, wall time also counts waiting for a core.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    elapsed = (cpu, wall)
    if done.returncode not in (0, 1, 2):
        sys.exit(f"airlock scan failed ({done.returncode}): {done.stderr}")
    out = json.loads(done.stdout)
    return {r["file"]: r for r in out["reports"]}, out["errors"], elapsed


def worst(report):
    order = ["low", "medium", "high", "critical"]
    sev = [order.index(f["severity"]) for f in report["findings"]]
    return order[max(sev)] if sev else "none"


def main():
    airlock, malicious, benign_dirs = sys.argv[1], sys.argv[2], sys.argv[3:]
    pin = subprocess.run(["which", "taskset"], capture_output=True).returncode == 0

    labels = {}
    with open(os.path.join(malicious, "labels.tsv")) as f:
        next(f)
        for line in f:
            file, eco, fmt, pattern = line.rstrip("\n").split("\t")
            labels[os.path.join(malicious, file)] = (eco, fmt, pattern)
    reports, errors, _ = scan(airlock, sorted(labels), pin)
    print(f"== malicious: {len(labels)} samples ({sum(1 for v in labels.values() if v[0] == 'pypi')} Python, "
          f"{sum(1 for v in labels.values() if v[0] == 'cran')} R)")
    detected = 0
    for path, (eco, fmt, pattern) in labels.items():
        r = reports.get(path)
        w = worst(r) if r else "error"
        hit = w in HIGH
        detected += hit
        rules = ",".join(sorted({f["rule"] for f in r["findings"] if f["severity"] in HIGH})) if r else ""
        print(f"  {'DETECTED' if hit else 'MISSED  '}  {w:8}  {os.path.basename(path):45}  {pattern}  [{rules}]")
    for e in errors:
        print(f"  ERROR {e['file']}: {e['error']}")
    print(f"detection rate at high: {detected}/{len(labels)} = {100 * detected / len(labels):.1f}%")

    benign = [f for d in benign_dirs if os.path.isdir(d) for f in files_in(d)]
    total = sum(os.path.getsize(f) for f in benign)
    # Throughput: one process, pinned to one core, every benign file; best of three runs.
    runs = [scan(airlock, benign, pin) for _ in range(3)]
    reports, errors, _ = runs[0]
    cpu, wall = min(r[2] for r in runs)
    fps = [(p, r) for p, r in reports.items() if worst(r) in HIGH]
    print(f"\n== benign: {len(benign)} files ({total / 1e6:.0f} MB) from {', '.join(benign_dirs)}")
    for path, r in fps:
        found = "; ".join(f"{f['rule']} {f['severity']} {f['file']}:{f['line']} {f['excerpt'][:80]!r}" for f in r["findings"] if f["severity"] in HIGH)
        print(f"  FALSE POSITIVE  {os.path.basename(path)}: {found}")
    for e in errors:
        print(f"  unreadable: {e['file']}: {e['error']}")
    scanned = len(reports)
    print(f"false-positive rate at high: {len(fps)}/{scanned} = {100 * len(fps) / max(scanned, 1):.2f}%")
    medium = sum(1 for r in reports.values() if worst(r) == "medium")
    print(f"benign files with a medium finding at worst: {medium}")
    print(f"\n== throughput ({'one core, taskset -c 0' if pin else 'unpinned'}, best of 3): {total / 1e6:.0f} MB in "
          f"{cpu:.2f} s of CPU = {total / 1e6 / cpu:.0f} MB/s ({wall:.2f} s wall = {total / 1e6 / wall:.0f} MB/s)")


if __name__ == "__main__":
    main()
