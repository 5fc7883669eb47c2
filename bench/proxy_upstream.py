#!/usr/bin/env python3
"""Write a static PEP 503 index for bench/proxy.sh to put behind nginx (stdlib only).

Layout under OUT (served as the web root):
    simple/index.html                    the project list
    simple/<project>/index.html          one anchor per file: ../../files/<filename>#sha256=<hex>
    files/<filename>                     tiny valid wheels (bench/seed.py's), one ~BIG_MB wheel

and MANIFEST (outside the web root): what was written, {"projects": {name: [{filename, sha256, size}]},
"big": name}, which bench/proxy_client.py reads.

Wheels are built deterministically (fixed zip dates; the big payload comes from a seeded generator),
so two runs with the same arguments give the same bytes and hashes.
"""

import argparse
import hashlib
import html
import json
import os
import random
import sys

sys.dont_write_bytecode = True  # no bench/__pycache__ from importing seed.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import wheel  # noqa: E402  (bench/seed.py: a minimal valid wheel)


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def project_page(name: str, files: list[dict]) -> bytes:
    anchors = "\n".join(
        f'    <a href="../../files/{html.escape(f["filename"])}#sha256={f["sha256"]}"'
        f' data-requires-python="&gt;=3.8">{html.escape(f["filename"])}</a><br/>'
        for f in files
    )
    return (
        "<!DOCTYPE html>\n<html>\n  <head>\n"
        '    <meta name="pypi:repository-version" content="1.0">\n'
        f"    <title>Links for {html.escape(name)}</title>\n  </head>\n  <body>\n"
        f"    <h1>Links for {html.escape(name)}</h1>\n{anchors}\n  </body>\n</html>\n"
    ).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="web root to create")
    parser.add_argument("--manifest", required=True, help="where to write manifest.json (outside --out)")
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--big-mb", type=float, default=1.0, help="size of the big wheel's payload")
    parser.add_argument("--prefix", default="proxy-pkg", help="project names are PREFIX-0000, ...")
    args = parser.parse_args()
    if args.projects < 1 or args.versions < 1:
        parser.error("--projects and --versions must be at least 1")

    big_name = f"{args.prefix}-big"
    big_payload = random.Random(1234).randbytes(int(args.big_mb * 1024 * 1024))
    jobs = [(f"{args.prefix}-{p:04d}", [f"1.0.{v}" for v in range(args.versions)], b"") for p in range(args.projects)]
    jobs.append((big_name, ["1.0.0"], big_payload))

    projects: dict[str, list[dict]] = {}
    total = 0
    for name, versions, payload in jobs:
        files = []
        for version in versions:
            filename, content = wheel(name, version, payload)
            write(os.path.join(args.out, "files", filename), content)
            files.append({"filename": filename, "sha256": hashlib.sha256(content).hexdigest(), "size": len(content)})
            total += len(content)
        write(os.path.join(args.out, "simple", name, "index.html"), project_page(name, files))
        projects[name] = files

    root = "\n".join(f'    <a href="{html.escape(n)}/">{html.escape(n)}</a><br/>' for n in projects)
    write(
        os.path.join(args.out, "simple", "index.html"),
        f"<!DOCTYPE html>\n<html>\n  <body>\n{root}\n  </body>\n</html>\n".encode(),
    )
    with open(args.manifest, "w") as f:
        json.dump({"projects": projects, "big": big_name}, f)
    count = sum(len(v) for v in projects.values())
    print(f"  {len(projects)} projects, {count} wheels, {total / 1e6:.1f} MB under {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
