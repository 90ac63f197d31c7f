"""The long version of tests/test_server_concurrency.py: `vecdex serve --workers 4`,
8 threads querying and 2 writing for --seconds (default 60); every write is read
back with its seq as min_seq on a fresh connection (usually another worker).

    python bench/soak_server.py --seconds 60

Prints queries, writes, errors, missed read-your-writes, how many checks crossed
workers, query latency p50/p99, and whether the server log mentions a locked database.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import server_workload  # noqa: E402
from serving import Server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--writers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        with Server(Path(tmp) / "soak.db", "--workers", str(args.workers)) as server:
            server_workload.seed(server.url, "soak")
            outcome = server_workload.run(server.url, "soak", args.seconds, args.readers, args.writers)
            log = server.output()
    lat = sorted(outcome.latencies) or [0.0]
    print(f"{args.seconds:g} s, {args.workers} workers, {args.readers} readers, {args.writers} writers")
    print(f"queries {outcome.queries} ({outcome.queries / args.seconds:.0f}/s), p50 {lat[len(lat) // 2] * 1000:.1f} ms, "
          f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms; answered by {len(outcome.read_workers)} workers")
    print(f"writes {outcome.writes}, read back {outcome.checks} ({outcome.cross_worker_checks} through another worker)")
    print(f"errors {len(outcome.errors)}, missed read-your-writes {len(outcome.missed)}, "
          f"'database is locked' in log: {'database is locked' in log}")
    for error in outcome.errors[:5]:
        print("  ", error)
    return 0 if not outcome.errors and not outcome.missed and "database is locked" not in log else 1


if __name__ == "__main__":
    sys.exit(main())
