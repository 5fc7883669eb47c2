#!/usr/bin/env python3
"""Seed an airlock server with many tiny wheels through the upload API (stdlib only).

Every project gets VERSIONS versions of a tiny valid wheel; one extra project `bench-big` holds a wheel of about
BIG_MB megabytes of incompressible data. Uploads run concurrently, like many twine clients at once.
"""

import argparse
import base64
import concurrent.futures
import hashlib
import io
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile


def wheel(name: str, version: str, payload: bytes = b"") -> tuple[str, bytes]:
    """A minimal valid wheel: a module, METADATA, WHEEL and RECORD."""
    dist = name.replace("-", "_")
    dist_info = f"{dist}-{version}.dist-info"
    members = {
        f"{dist}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            f"Summary: airlock benchmark fixture\nRequires-Python: >=3.8\n\n"
        ).encode(),
        f"{dist_info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: airlock-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    if payload:
        members[f"{dist}/data.bin"] = payload
    record = ""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, data in members.items():
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if path.endswith(".bin") else zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record += f"{path},sha256={digest},{len(data)}\n"
        info = zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2020, 1, 1, 0, 0, 0))
        zf.writestr(info, record + f"{dist_info}/RECORD,,\n")
    return f"{dist}-{version}-py3-none-any.whl", buf.getvalue()


def multipart(fields: dict[str, str], filename: str, content: bytes) -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n{value}\r\n'.encode())
    out.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="content"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
    )
    out.write(content)
    out.write(f"\r\n--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", out.getvalue()


def upload(url: str, token: str, name: str, version: str, payload: bytes = b"") -> None:
    filename, content = wheel(name, version, payload)
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel",
        "pyversion": "py3",
        "sha256_digest": hashlib.sha256(content).hexdigest(),
    }
    post(url, token, fields, filename, content)


def post(url: str, token: str, fields: dict[str, str], filename: str, content: bytes) -> None:
    """POSTs an upload form (fields, then the file as `content`) with a token, as twine does."""
    content_type, body = multipart(fields, filename, content)
    auth = base64.b64encode(f"__token__:{token}".encode()).decode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, "Authorization": f"Basic {auth}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{filename}: HTTP {e.code}: {e.read()[:300]!r}") from None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="upload URL, e.g. http://127.0.0.1:PORT/upload/internal-pypi/")
    parser.add_argument("--token", required=True, help="a publisher token")
    parser.add_argument("--projects", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--big-mb", type=float, default=1.0, help="size of the bench-big wheel's payload (0: none)")
    parser.add_argument("--prefix", default="bench-pkg", help="project names: PREFIX-0000, PREFIX-0001, ...")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    jobs = [(f"{args.prefix}-{p:04d}", f"1.0.{v}") for p in range(args.projects) for v in range(args.versions)]
    started = time.monotonic()
    if args.big_mb > 0:
        upload(args.url, args.token, "bench-big", "1.0.0", os.urandom(int(args.big_mb * 1024 * 1024)))
    done = 0
    pool = concurrent.futures.ThreadPoolExecutor(args.concurrency)
    futures = [pool.submit(upload, args.url, args.token, name, version) for name, version in jobs]
    try:
        for future in concurrent.futures.as_completed(futures):
            future.result()
            done += 1
            if done % 1000 == 0 or done == len(jobs):
                rate = done / (time.monotonic() - started)
                print(f"  seeded {done}/{len(jobs)} wheels ({rate:.0f}/s)", flush=True)
    except Exception as e:  # the first failure stops the run
        pool.shutdown(wait=False, cancel_futures=True)
        print(f"seeding failed: {e}", file=sys.stderr)
        return 1
    pool.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
