#!/usr/bin/env python3
"""Upload a steady trickle of new tiny wheels (stdlib only), as a busy CI or a busy proxy writes.

Every upload is a new version of the project `bench-trickle-<tag>`, at RATE uploads per second, until
killed or DURATION seconds have passed; prints how many it made and how many failed.
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed import upload  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="upload URL, e.g. http://127.0.0.1:PORT/upload/internal-pypi/")
    parser.add_argument("--token", required=True, help="a publisher token")
    parser.add_argument("--rate", type=float, default=20.0, help="uploads per second")
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds")
    parser.add_argument("--tag", default=str(os.getpid()), help="names the project written to")
    args = parser.parse_args()
    started = time.monotonic()
    made = failed = 0
    stop = []
    # SIGTERM ends the trickle with its count (a background job of a script ignores SIGINT).
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    while time.monotonic() - started < args.duration and not stop:
        due = started + made / args.rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        if stop:
            break
        try:
            upload(args.url, args.token, f"bench-trickle-{args.tag}", f"1.0.{made}")
        except Exception as e:  # keep the pace: a failure is counted, not fatal
            failed += 1
            if failed <= 3:
                print(f"  trickle: {e}", file=sys.stderr)
        made += 1
    print(f"  trickle: {made} uploads, {failed} failed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
