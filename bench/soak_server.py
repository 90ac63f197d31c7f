"""The long version of tests/test_server_concurrency.py: `vecdex serve --workers 4`,
8 threads querying and 2 writing for --seconds (default 60); every write is read
back with its seq as min_seq on a fresh connection (usually another worker).

    python bench/soak_server.py --seconds 60

Prints queries, writes, errors, missed read-your-writes, how many checks crossed
workers, query latency p50/p99, and whether the server log mentions a locked database.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import server_workload  # noqa: E402
from serving import Server  # noqa: E402
from timing import options, percentiles  # noqa: E402


def main() -> int:
    args = options(__doc__, seconds=60.0, workers=4, readers=8, writers=2)
    with tempfile.TemporaryDirectory() as tmp:
        with Server(Path(tmp) / "soak.db", "--workers", str(args.workers)) as server:
            server_workload.seed(server.url, "soak")
            outcome = server_workload.run(server.url, "soak", args.seconds, args.readers, args.writers)
            log = server.output()
    p50, p99 = percentiles(outcome.latencies or [0.0], 50, 99)
    print(f"{args.seconds:g} s, {args.workers} workers, {args.readers} readers, {args.writers} writers")
    print(f"queries {outcome.queries} ({outcome.queries / args.seconds:.0f}/s), p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms; answered by {len(outcome.read_workers)} workers")
    print(f"writes {outcome.writes}, read back {outcome.checks} ({outcome.cross_worker_checks} through another worker)")
    print(f"errors {len(outcome.errors)}, missed read-your-writes {len(outcome.missed)}, "
          f"'database is locked' in log: {'database is locked' in log}")
    for error in outcome.errors[:5]:
        print("  ", error)
    return 0 if not outcome.errors and not outcome.missed and "database is locked" not in log else 1


if __name__ == "__main__":
    sys.exit(main())
