#!/usr/bin/env python3
"""Seed an airlock server with many tiny R source packages through the upload API (stdlib only).

Packages `benchR<n>` (n = 0 .. COUNT-1), version 1.0.0 each: a DESCRIPTION and an R/ file in
`<pkg>_1.0.0.tar.gz`, as R CMD build makes them. Uploads run concurrently.
"""

import argparse
import concurrent.futures
import io
import os
import sys
import tarfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import post  # noqa: E402


def r_source(package: str, version: str) -> tuple[str, bytes]:
    files = {
        f"{package}/DESCRIPTION": (
            f"Package: {package}\nVersion: {version}\nTitle: Benchmark Fixture\n"
            "Description: A package of the airlock benchmark.\nLicense: MIT\n"
            "Authors@R: person('A', 'B', role = c('aut', 'cre'), email = 'a@b.invalid')\n"
            "Maintainer: A B <a@b.invalid>\nNeedsCompilation: no\n"
        ).encode(),
        f"{package}/R/{package}.R": f"hello_{package} <- function() 1\n".encode(),
        f"{package}/NAMESPACE": b"export(hello)\n",
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1577836800
            tar.addfile(info, io.BytesIO(data))
    return f"{package}_{version}.tar.gz", buf.getvalue()


def upload(url: str, token: str, package: str, version: str) -> None:
    filename, content = r_source(package, version)
    post(url, token, {}, filename, content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="upload URL, e.g. http://127.0.0.1:PORT/upload/internal-cran/")
    parser.add_argument("--token", required=True, help="a publisher token")
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--first", type=int, default=0, help="number of the first package")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    started = time.monotonic()
    names = [f"benchR{n}" for n in range(args.first, args.first + args.count)]
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        futures = [pool.submit(upload, args.url, args.token, name, "1.0.0") for name in names]
        for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
            future.result()
            if done % 5000 == 0 or done == len(names):
                print(f"  seeded {done}/{len(names)} R packages ({done / (time.monotonic() - started):.0f}/s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
