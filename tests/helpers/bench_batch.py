"""Bulk-engine overhead per job: a no-op send, no rate limit, no journal. Prints numbers.

    python tests/helpers/bench_batch.py [COUNT] [JOBS]
"""

from __future__ import annotations

import os
import resource
import sys
import time

from shipctl.batch import BulkOptions, Job, Outcome, run
from shipctl.output import Output


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    real_stderr = sys.stderr
    sys.stdout = sys.stderr = open(os.devnull, "w")  # one line per item otherwise

    def jobs():
        for i in range(count):
            yield Job(id=f"id-{i}", keys=(f"k{i % 1000}",), label=f"L{i}",
                      where=f"b.jsonl:{i} item {i}")

    wall, cpu = time.perf_counter(), time.process_time()
    summary = run(jobs(), lambda job: Outcome(True, "ok"), BulkOptions(jobs=workers), Output())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{count} jobs, --jobs {workers}: {count / wall:,.0f} jobs/s, "
          f"{cpu / count * 1e6:.1f} µs CPU per job, max RSS {rss:.0f} MB, "
          f"{summary.counts['succeeded']} succeeded", file=real_stderr)


if __name__ == "__main__":
    main()
