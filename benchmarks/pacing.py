"""How closely a paced bulk run keeps ``--rate`` (docs/conventions.md, Bulk engine): the
timing the unit tests leave out.

tests/batch/test_batch.py checks what cannot flake (no two starts closer than 1/R, by the
pacer's own clock); this measures what a busy machine can blur: the start times as send()
sees them, over a run, against the ideal — span within +5 % of (N-1)/R, and no gap under 95 %
of 1/R.

    python benchmarks/pacing.py [--rate 10] [--count 20] [--jobs 1 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shipctl.batch import BulkOptions, Job, Outcome, make_pacer, run  # noqa: E402
from shipctl.output import Output  # noqa: E402


def measure(rate: float, count: int, workers: int, retries: bool) -> tuple[float, float, float]:
    """(span ÷ ideal span, smallest gap ÷ 1/R, largest gap ÷ 1/R) of the requests' starts."""
    lock = threading.Lock()
    starts: list[float] = []
    pacer = make_pacer(rate)
    assert pacer is not None

    def send(job: Job) -> Outcome:
        with lock:
            starts.append(time.monotonic())
        if retries:  # answered "busy" once: the retry takes a slot of the same pacer
            time.sleep(0.002)
            if pacer.wait():
                with lock:
                    starts.append(time.monotonic())
        time.sleep(0.01)
        return Outcome(True, "ok")

    jobs = [Job(id=str(i), keys=(), label=f"J{i}", where=f"f:{i}") for i in range(count)]
    with open(os.devnull, "w") as devnull:
        real, sys.stderr, sys.stdout = (sys.stderr, sys.stdout), devnull, devnull
        try:
            run(jobs, send, BulkOptions(jobs=workers, rate=rate, pacer=pacer), Output())
        finally:
            sys.stderr, sys.stdout = real
    starts.sort()
    interval = 1 / rate
    gaps = [b - a for a, b in pairwise(starts)]
    ideal = (len(starts) - 1) * interval
    return (starts[-1] - starts[0]) / ideal, min(gaps) / interval, max(gaps) / interval


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    ok = True
    for retries in (False, True):
        for workers in args.jobs:
            span, low, high = measure(args.rate, args.count, workers, retries)
            good = 0.999 <= span <= 1.05 and low >= 0.95
            ok &= good
            what = "first attempts + retries" if retries else "first attempts"
            print(f"--rate {args.rate:g} --jobs {workers:<2} {what:<24}: span {span:.3f} of "
                  f"ideal, gaps {low:.3f}-{high:.3f} of 1/R  {'ok' if good else 'OUTSIDE ±5 %'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
