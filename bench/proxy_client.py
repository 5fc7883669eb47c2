#!/usr/bin/env python3
"""The cold-path half of bench/proxy.sh: first requests through airlock's pull-through proxy (stdlib only).

Sequential requests on one keep-alive connection per server, timed from sending the request to the
last body byte (time.perf_counter), so each figure is one request's latency, not throughput:

  1. warm-up: the big project's page through airlock (the very first upstream request; reported apart);
  2. cold pages: the first request of each of --pages distinct project pages through airlock, then the
     same page again (warm, one request), and the upstream's page from nginx directly;
  3. cold files: the first download of --files distinct small wheels (one per project, URLs taken from
     airlock's pages; also timed to the response head), then the same file again, and directly from
     nginx; then the big wheel the same way.

Every page must list exactly the upstream's files and hashes, and every file must hash to the
manifest's sha256, before a figure counts. Prints a table; writes the URL paths bench/proxy.sh hands
to wrk (--paths-out) and the raw latencies (--json-out).
"""

import argparse
import hashlib
import http.client
import json
import re
import statistics
import sys
import time
import urllib.parse

HTML = {"Accept": "text/html"}
ANCHOR = re.compile(r'<a\s[^>]*href="([^"]+)"')


class Client:
    """One keep-alive HTTP/1.1 connection to a base URL; reconnects if the server closed it."""

    def __init__(self, base: str) -> None:
        parts = urllib.parse.urlsplit(base)
        self.base = base.rstrip("/")
        self.host, self.port = parts.hostname, parts.port
        self.conn: http.client.HTTPConnection | None = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[float, bytes]:
        """GET path: (seconds from request to last byte, body). Anything but 200 raises."""
        elapsed, _, body = self.get_timed(path, headers)
        return elapsed, body

    def get_timed(self, path: str, headers: dict[str, str] | None = None) -> tuple[float, float, bytes]:
        """GET path: (seconds to the last byte, seconds to the response head, body)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.conn.connect()  # outside the timed part
            started = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=headers or {})
                response = self.conn.getresponse()
                head = time.perf_counter() - started
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
                continue
            elapsed = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"GET {self.base}{path}: HTTP {response.status}: {body[:300]!r}")
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
                self.conn = None
            return elapsed, head, body
        raise AssertionError("unreachable")


def anchors(page_url: str, body: bytes) -> dict[str, str]:
    """filename -> absolute URL path (no fragment) of every file anchor of a PEP 503 page."""
    out = {}
    for href in ANCHOR.findall(body.decode()):
        url = urllib.parse.urljoin(page_url, href.replace("&amp;", "&"))
        path = urllib.parse.urlsplit(url).path
        out[urllib.parse.unquote(path.rsplit("/", 1)[-1])] = path
    return out


def check_page(project: str, page_url: str, body: bytes, expected: list[dict]) -> dict[str, str]:
    files = anchors(page_url, body)
    want = {f["filename"] for f in expected}
    if set(files) != want:
        raise RuntimeError(f"{project}: airlock lists {sorted(files)}, the upstream {sorted(want)}")
    text = body.decode()
    for f in expected:  # the upstream's hash travels through (fragment or file URL)
        if f["sha256"] not in text:
            raise RuntimeError(f"{project}: sha256 of {f['filename']} missing from airlock's page")
    return files


def check_file(what: str, body: bytes, sha256: str) -> None:
    got = hashlib.sha256(body).hexdigest()
    if got != sha256:
        raise RuntimeError(f"{what}: {len(body)} bytes with sha256 {got}, expected {sha256}")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * p // 100)))
    return ordered[int(rank) - 1]


def row(label: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    if len(ms) == 1:
        return f"  {label:<40} {1:>5} {ms[0]:>9.2f} {'':>9} {'':>9} {'':>9}"
    return (
        f"  {label:<40} {len(ms):>5} {statistics.median(ms):>9.2f} {percentile(ms, 90):>9.2f}"
        f" {percentile(ms, 99):>9.2f} {max(ms):>9.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--airlock", required=True, help="airlock base URL")
    parser.add_argument("--upstream", required=True, help="the upstream's simple index URL (nginx)")
    parser.add_argument("--manifest", required=True, help="bench/proxy_upstream.py's manifest")
    parser.add_argument("--lane", default="dev")
    parser.add_argument("--pages", type=int, default=200, help="distinct cold project pages")
    parser.add_argument("--files", type=int, default=100, help="distinct cold small wheels")
    parser.add_argument("--page-project", help="project whose page path goes to --paths-out (default: the 43rd)")
    parser.add_argument("--paths-out", required=True)
    parser.add_argument("--json-out")
    args = parser.parse_args()

    manifest = json.load(open(args.manifest))
    big = manifest["big"]
    projects = [p for p in manifest["projects"] if p != big]
    pages = projects[: max(1, min(args.pages, len(projects)))]
    file_projects = pages[: max(1, min(args.files, len(pages)))]
    page_project = args.page_project or pages[min(42, len(pages) - 1)]
    if page_project not in pages:
        raise SystemExit(f"--page-project {page_project} is not among the {len(pages)} cold pages")

    airlock = Client(args.airlock)
    upstream_url = args.upstream.rstrip("/") + "/"
    upstream = Client(upstream_url)
    upstream_prefix = urllib.parse.urlsplit(upstream_url).path
    # proxy_upstream.py's layout: files/ next to simple/
    files_prefix = urllib.parse.urlsplit(urllib.parse.urljoin(upstream_url, "../files/")).path
    lane_prefix = f"/{args.lane}/pypi/simple/"
    results: dict[str, list[float]] = {}

    def page(project: str) -> tuple[float, dict[str, str]]:
        path = f"{lane_prefix}{project}/"
        elapsed, body = airlock.get(path, HTML)
        return elapsed, check_page(project, args.airlock + path, body, manifest["projects"][project])

    # 1. warm-up: the first upstream request of the process (connection pool, resolver, ...)
    first, big_files = page(big)
    results["first page (warm-up)"] = [first]

    # 2. cold pages, each followed by a warm repeat; then the same pages directly from nginx
    links: dict[str, dict[str, str]] = {}
    cold, warm, direct = [], [], []
    for project in pages:
        elapsed, links[project] = page(project)
        cold.append(elapsed)
        warm.append(page(project)[0])
    for project in pages:
        direct.append(upstream.get(f"{upstream_prefix}{project}/", HTML)[0])
    results["page cold"], results["page warm"], results["page nginx"] = cold, warm, direct

    # 3. cold small files (the newest version of each project), warm repeat, then nginx
    cold, cold_head, warm, direct = [], [], [], []
    for project in file_projects:
        f = manifest["projects"][project][-1]
        path = links[project][f["filename"]]
        elapsed, head, body = airlock.get_timed(path)
        check_file(f"airlock {path}", body, f["sha256"])
        cold.append(elapsed)
        cold_head.append(head)
        elapsed, body = airlock.get(path)
        check_file(f"airlock {path} (again)", body, f["sha256"])
        warm.append(elapsed)
    for project in file_projects:
        f = manifest["projects"][project][-1]
        elapsed, body = upstream.get(files_prefix + f["filename"])
        check_file(f"nginx {f['filename']}", body, f["sha256"])
        direct.append(elapsed)
    results["small file cold"], results["small file warm"], results["small file nginx"] = cold, warm, direct
    results["small file cold head"] = cold_head

    # 4. the big wheel: cold once, warm best of 5, nginx best of 5
    bf = manifest["projects"][big][0]
    big_path = big_files[bf["filename"]]
    elapsed, body = airlock.get(big_path)
    check_file(f"airlock {big_path}", body, bf["sha256"])
    results["big file cold"] = [elapsed]
    results["big file warm"] = []
    results["big file nginx"] = []
    for _ in range(5):
        elapsed, body = airlock.get(big_path)
        check_file(f"airlock {big_path} (again)", body, bf["sha256"])
        results["big file warm"].append(elapsed)
        elapsed, body = upstream.get(files_prefix + bf["filename"])
        check_file(f"nginx {bf['filename']}", body, bf["sha256"])
        results["big file nginx"].append(elapsed)

    mb = bf["size"] / 1e6
    labels = [
        ("first page (warm-up)", f"first page ever ({big})"),
        ("page cold", "project page, cold (airlock)"),
        ("page warm", "project page, 2nd request (airlock)"),
        ("page nginx", "project page, nginx direct"),
        ("small file cold", "small wheel, cold (airlock)"),
        ("small file cold head", "  of which to the response head"),
        ("small file warm", "small wheel, 2nd request (airlock)"),
        ("small file nginx", "small wheel, nginx direct"),
        ("big file cold", f"{mb:.1f} MB wheel, cold (airlock)"),
        ("big file warm", f"{mb:.1f} MB wheel, later requests (airlock)"),
        ("big file nginx", f"{mb:.1f} MB wheel, nginx direct"),
    ]
    print(f"  {'single requests, ms (sequential)':<40} {'n':>5} {'median':>9} {'p90':>9} {'p99':>9} {'max':>9}")
    for key, label in labels:
        print(row(label, results[key]))

    with open(args.paths_out, "w") as out:
        out.write(f"PAGE_PATH={lane_prefix}{page_project}/\n")
        out.write(f"UPSTREAM_PAGE_PATH={upstream_prefix}{page_project}/\n")
        out.write(f"BIG_PATH={big_path}\n")
        # upstream requests the cold phase should have caused: each page and each file once
        out.write(f"EXPECTED_PAGE_FETCHES={len(pages) + 1}\n")
        out.write(f"EXPECTED_FILE_FETCHES={len(file_projects) + 1}\n")
        out.write(f"UPSTREAM_BIG_PATH={files_prefix}{bf['filename']}\n")
    if args.json_out:
        with open(args.json_out, "w") as out:
            json.dump(results, out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RuntimeError, OSError, http.client.HTTPException) as e:
        print(f"proxy_client: {e}", file=sys.stderr)
        sys.exit(1)
