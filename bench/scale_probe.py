#!/usr/bin/env python3
"""Probes of bench/scale.sh against several airlock servers of one database (stdlib only).

  visibility    upload through one server, time until each other server lists the file
  single-flight ask every server at once for cold proxied files; count the upstream fetches
  cran-update   upload one R package, time until another server's PACKAGES.gz lists it
"""

import argparse
import gzip
import json
import os
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import upload  # noqa: E402
from seed_cran import upload as upload_r  # noqa: E402

JSON = "application/vnd.pypi.simple.v1+json"


def get(url: str, accept: str = "*/*") -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_listed(url: str, needle: str, deadline: float) -> float:
    """Seconds until the page at url contains needle (polling every 2 ms)."""
    started = time.monotonic()
    while time.monotonic() < deadline:
        status, body = get(url, JSON)
        if status == 200 and needle.encode() in (gzip.decompress(body) if url.endswith(".gz") else body):
            return time.monotonic() - started
        time.sleep(0.002)
    raise SystemExit(f"{needle} never appeared at {url}")


def visibility(args) -> None:
    delays: dict[str, list[float]] = {o: [] for o in args.others}
    for n in range(args.rounds):
        version = f"2.0.{n}"
        upload(f"{args.via}/upload/internal-pypi/", args.token, "bench-visible", version)
        acked = time.monotonic()
        results: dict[str, float] = {}

        def watch(other: str) -> None:
            wait_listed(f"{other}/dev/pypi/simple/bench-visible/", f"-{version}-", acked + 30)
            results[other] = time.monotonic() - acked

        threads = [threading.Thread(target=watch, args=(o,)) for o in args.others]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for o, d in results.items():
            delays[o].append(d * 1000)
        time.sleep(0.2)
    for i, (o, ds) in enumerate(delays.items(), 2):
        print(f"  upload acknowledged by replica 1 -> listed by replica {i}: "
              f"median {statistics.median(ds):.1f} ms, max {max(ds):.1f} ms ({len(ds)} uploads)")


def metric(base: str, name: str) -> float:
    _, body = get(f"{base}/metrics")
    for line in body.decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def single_flight(args) -> None:
    for project in args.projects:
        page_url = f"{args.replicas[0]}/dev/pypi/simple/{project}/"
        _, page = get(page_url, JSON)
        file = json.loads(page)["files"][0]
        path = urllib.parse.urlsplit(urllib.parse.urljoin(page_url, file["url"])).path
        before = sum(metric(r, "airlock_proxy_file_fetches_total") for r in args.replicas)
        barrier = threading.Barrier(len(args.replicas) * args.clients)
        failures = []

        def fetch(base: str) -> None:
            barrier.wait()
            status, body = get(base + path)
            if status != 200 or len(body) != file.get("size", len(body)):
                failures.append(status)

        threads = [threading.Thread(target=fetch, args=(r,)) for r in args.replicas for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = sum(metric(r, "airlock_proxy_file_fetches_total") for r in args.replicas)
        print(f"  {file['filename']}: {len(threads)} clients on {len(args.replicas)} servers at once -> "
              f"{after - before:.0f} upstream fetch(es){', FAILED: ' + str(failures) if failures else ''}")


def update_seconds(server: str) -> tuple[float, int]:
    """The sum and count of a server's in-place CRAN view updates (its /metrics histogram)."""
    _, body = get(f"{server}/metrics", "text/plain")
    found = {}
    for line in body.decode().splitlines():
        for key in ("sum", "count"):
            if line.startswith(f"airlock_cran_view_update_seconds_{key} "):
                found[key] = float(line.split()[1])
    return found.get("sum", 0.0), int(found.get("count", 0))


def cran_update(args) -> None:
    for other in args.others:
        get(f"{other}/dev/cran/src/contrib/PACKAGES.gz")  # warm
    before = {o: update_seconds(o) for o in args.others}
    timings = []
    for n in range(args.rounds):
        package = f"benchRnew{os.getpid()}x{n}"
        upload_r(f"{args.via}/upload/internal-cran/", args.token, package, "1.0.0")
        acked = time.monotonic()
        for other in args.others:
            wait_listed(f"{other}/dev/cran/src/contrib/PACKAGES.gz", f"Package: {package}\n", acked + 60)
        timings.append((time.monotonic() - acked) * 1000)
    print(f"  one new R package -> in PACKAGES.gz of every other server: median {statistics.median(timings):.0f} ms, "
          f"max {max(timings):.0f} ms ({len(timings)} uploads; the probe downloads and gunzips the whole file per poll)")
    for other in args.others:
        (s0, c0), (s1, c1) = before[other], update_seconds(other)
        if c1 > c0:
            print(f"  {other}: {c1 - c0} in-place updates of the view, mean {(s1 - s0) / (c1 - c0) * 1000:.1f} ms each "
                  "(from the changed packages read to the four files ready)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="probe", required=True)
    v = sub.add_parser("visibility")
    v.add_argument("--via", required=True)
    v.add_argument("--others", nargs="+", required=True)
    v.add_argument("--token", required=True)
    v.add_argument("--rounds", type=int, default=10)
    s = sub.add_parser("single-flight")
    s.add_argument("--replicas", nargs="+", required=True)
    s.add_argument("--projects", nargs="+", required=True)
    s.add_argument("--clients", type=int, default=8)
    c = sub.add_parser("cran-update")
    c.add_argument("--via", required=True)
    c.add_argument("--others", nargs="+", required=True)
    c.add_argument("--token", required=True)
    c.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    {"visibility": visibility, "single-flight": single_flight, "cran-update": cran_update}[args.probe](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
