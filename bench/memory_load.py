#!/usr/bin/env python3
"""Memory under upload load (stdlib only): UPLOADERS concurrent uploads plus READERS concurrent readers of
what was uploaded, then idle. Prints airlock's VmRSS before, its peak (VmHWM) and VmRSS 5 s and 30 s after.

Each uploader publishes FILES wheels of about SIZE_MB megabytes of incompressible data (distinct projects, so
nothing is a duplicate); each reader fetches project pages and whole files of wheels already uploaded, in a
loop, until the uploads end.
"""

import argparse
import concurrent.futures
import json
import random
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed import upload  # noqa: E402


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="airlock's base URL, http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="a publisher token")
    parser.add_argument("--pid", type=int, required=True, help="airlock's process id")
    parser.add_argument("--uploaders", type=int, default=32)
    parser.add_argument("--readers", type=int, default=32)
    parser.add_argument("--files", type=int, default=8, help="wheels per uploader")
    parser.add_argument("--size-mb", type=float, default=2.0)
    parser.add_argument("--after", default="5,30", help="seconds after the load to read VmRSS at")
    args = parser.parse_args()

    upload_url = f"{args.url}/upload/internal-pypi/"
    before = status_kib(args.pid, "VmRSS")
    print(f"  before: VmRSS {mib(before)}", flush=True)

    uploaded: list[str] = []  # project names
    lock = threading.Lock()
    stop = threading.Event()
    reads = [0]
    payload_size = int(args.size_mb * 1024 * 1024)
    rng = random.Random(1)

    def uploader(u: int) -> None:
        for f in range(args.files):
            name = f"mem-{u:02d}-{f:03d}"
            upload(upload_url, args.token, name, "1.0", rng.randbytes(payload_size))
            with lock:
                uploaded.append(name)

    def reader() -> None:
        local = random.Random()
        accept = {"Accept": "application/vnd.pypi.simple.v1+json"}
        while not stop.is_set():
            with lock:
                name = local.choice(uploaded) if uploaded else None
            if name is None:
                time.sleep(0.05)
                continue
            page_url = f"{args.url}/dev/pypi/simple/{name}/"
            with urllib.request.urlopen(urllib.request.Request(page_url, headers=accept), timeout=60) as r:
                page = json.load(r)
            for file in page["files"]:
                with urllib.request.urlopen(urllib.parse.urljoin(page_url, file["url"]), timeout=60) as r:
                    while r.read(256 * 1024):
                        pass
            with lock:
                reads[0] += 1

    peak_rss = [before]

    def sampler() -> None:
        while not stop.is_set():
            peak_rss[0] = max(peak_rss[0], status_kib(args.pid, "VmRSS"))
            time.sleep(0.1)

    started = time.monotonic()
    threading.Thread(target=sampler, daemon=True).start()
    readers = concurrent.futures.ThreadPoolExecutor(args.readers)
    reader_futures = [readers.submit(reader) for _ in range(args.readers)]
    with concurrent.futures.ThreadPoolExecutor(args.uploaders) as uploaders:
        for future in [uploaders.submit(uploader, u) for u in range(args.uploaders)]:
            future.result()
    stop.set()
    for future in reader_futures:
        future.result()
    readers.shutdown()
    ended = time.monotonic()
    total = args.uploaders * args.files
    print(
        f"  load: {total} uploads of {args.size_mb:g} MB and {reads[0]} page+file reads in {ended - started:.1f} s",
        flush=True,
    )
    peak = max(peak_rss[0], status_kib(args.pid, "VmHWM"))
    print(f"  peak: VmHWM {mib(peak)}", flush=True)
    results = {"before_kib": before, "peak_kib": peak}
    for seconds in [float(s) for s in args.after.split(",")]:
        time.sleep(max(0.0, ended + seconds - time.monotonic()))
        rss = status_kib(args.pid, "VmRSS")
        results[f"after_{seconds:g}s_kib"] = rss
        print(f"  {seconds:g} s after: VmRSS {mib(rss)}", flush=True)
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
