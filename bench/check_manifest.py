"""Helpers of bench/check.sh.

  check_manifest.py make PYPA_DIR OUT N   write a uv.lock of N registry packages, each pinned at a
                                          version its advisories list as affected (the worst case:
                                          every entry has findings)
  check_manifest.py merge OUT LOCK...     write a uv.lock of every registry package (name, first
                                          version seen) of the given uv/poetry/pdm/pylock files and
                                          `name==version` lines of requirement files: a
                                          realistic large lock (a few percent have advisories)
  check_manifest.py time N CMD...         run CMD N times, print median / p95 / max wall time in ms
"""

import pathlib
import re
import statistics
import subprocess
import sys
import time
import tomllib


def write_uv_lock(out, packages):
    lines = ['version = 1', 'revision = 3', 'requires-python = ">=3.9"', ""]
    for name, version in packages:
        lines += [
            "[[package]]",
            f'name = "{name}"',
            f'version = "{version}"',
            'source = { registry = "https://pypi.org/simple" }',
            f'wheels = [{{ url = "https://files.example/{name}-{version}-py3-none-any.whl", '
            f'hash = "sha256:{"0" * 64}", size = 1 }}]',
            "",
        ]
    pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(out).write_text("\n".join(lines), encoding="utf-8")
    print(f"  wrote {out}: {len(packages)} packages")


def merge(out, locks):
    seen = {}
    pin = re.compile(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;\\]+)")
    for lock in locks:
        text = pathlib.Path(lock).read_text(encoding="utf-8")
        if lock.endswith(".txt"):
            for line in text.splitlines():
                m = pin.match(line.strip())
                if m:
                    seen.setdefault(m.group(1).lower(), (m.group(1), m.group(3)))
            continue
        data = tomllib.loads(text)
        for p in data.get("package", []) + data.get("packages", []):
            source = p.get("source", {})
            if not isinstance(source, dict):
                source = {}
            if "version" not in p or any(k in source or k in p for k in ("editable", "virtual", "git", "path", "directory", "url", "vcs", "archive")):
                continue
            if source.get("type") in ("git", "directory", "file", "url"):
                continue
            seen.setdefault(p["name"].lower(), (p["name"], p["version"]))
    write_uv_lock(out, list(seen.values()))


def make(pypa_dir, out, count):
    picked = {}
    for path in sorted(pathlib.Path(pypa_dir).rglob("*.yaml")):
        name = version = None
        in_versions = False
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("name:") and name is None:
                name = stripped.split(":", 1)[1].strip().strip("'\"")
            if stripped == "versions:":
                in_versions = True
                continue
            if in_versions:
                if stripped.startswith("- "):
                    version = stripped[2:].strip().strip("'\"")
                    break
                in_versions = False
        if name and version and name.lower() not in picked:
            picked[name.lower()] = (name, version)
        if len(picked) >= count:
            break
    write_uv_lock(out, list(picked.values()))


def timed(runs, cmd):
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples.append((time.perf_counter() - start) * 1000)
        if done.returncode not in (0, 1):
            sys.exit(f"{cmd} failed ({done.returncode}): {done.stderr.decode()}")
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"median {statistics.median(samples):7.1f} ms   p95 {p95:7.1f} ms   max {samples[-1]:7.1f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "merge":
        merge(sys.argv[2], sys.argv[3:])
    elif sys.argv[1] == "time":
        timed(int(sys.argv[2]), sys.argv[3:])
