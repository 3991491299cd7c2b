"""--rate end to end: how evenly `shipctl ewe modify --rate R` spaces its requests at the sandbox.

Starts a sandbox in this process that notes the arrival of every request (retries included),
runs `shipctl ewe modify ITEMS --rate R --jobs J` in its own process, and prints per run:
  - the span from the first arrival to the last against (n-1)/R, target within ±5 %
  - the smallest gap between arrivals × R, target ≥ 0.90 (no two requests closer than 1/R);
    the median and the largest gap × R beside it
  - the most arrivals in any one second, against R
With --fail-rate F the sandbox answers that fraction with HTTP 503 (seeded), so the figures
cover the retries too: every request takes a slot. (The span can then run long for a good
reason: while every job waits out its back-off, nobody asks for a slot.)

These are the precise figures the tests leave out: on a loaded machine the server's readings
of arrivals are late by whatever stall it had (tests/ewe/test_modify_e2e.py keeps bounds that
a stall cannot break). Run it on a quiet machine. benchmarks/pacing.py measures the bulk
engine's pacer alone, in-process; this one adds the real command, HTTP and the server.

    python benchmarks/ewe_pacing.py [--items 31] [--rate 10] [--jobs 8] [--fail-rate 0] [--runs 3]
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ewe_throughput  # noqa: E402  (beside this script)

from shipctl.provider import providers  # noqa: E402
from shipctl.sandbox import Faults, SandboxServer  # noqa: E402


class RecordingSandbox(SandboxServer):
    """The sandbox, noting when each request to a simulator arrived (plan() is called once
    per such request, as it arrives, faulted or not)."""

    def __init__(self, faults: Faults) -> None:
        super().__init__("127.0.0.1", 0, faults)
        self.arrivals: list[float] = []
        self._arrivals_lock = threading.Lock()

    def plan(self) -> tuple[float, str | None]:
        arrived = time.monotonic()
        with self._arrivals_lock:
            self.arrivals.append(arrived)
        return super().plan()


def body(run: int, i: int) -> dict:
    """The throughput benchmark's request, with a referenceNo of this run's own."""
    return {**ewe_throughput.body(i), "referenceNo": f"PACE-{run:02d}-{i:05d}"}


def busiest_second(arrivals: list[float]) -> int:
    return max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=31)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="share answered HTTP 503")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if args.items < 2 or args.rate <= 0:
        parser.error("needs --items ≥ 2 and --rate > 0")

    work = Path(tempfile.mkdtemp(prefix="shipctl-pacing-"))
    faults = Faults(fail_rate=args.fail_rate, fail_mode="http503", seed=7)
    server = RecordingSandbox(faults).start()
    try:
        env_names = {spec.name: spec.env for p in providers() for spec in p.keys}
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHIPCTL_")}
        env.update({env_names[key]: value for key, value in server.settings().items()})
        env.update(XDG_CONFIG_HOME=str(work), XDG_CACHE_HOME=str(work), NO_COLOR="1")

        interval = 1.0 / args.rate
        print(f"shipctl ewe modify --rate {args.rate:g} --jobs {args.jobs}: {args.items} items, "
              f"{args.fail_rate:.0%} answered 503; targets: span within ±5 % of (n-1)/R, "
              f"smallest gap ≥ 0.90/R")
        print(f"{'run':>3} {'requests':>8} {'span s':>8} {'(n-1)/R':>8} {'error':>8} "
              f"{'min gap×R':>9} {'median×R':>9} {'max×R':>7} {'busiest 1 s':>11}")
        worst_error, worst_gap = 0.0, float("inf")
        for run in range(1, args.runs + 1):
            items = work / f"items-{run}.jsonl"
            items.write_text("".join(json.dumps(body(run, i)) + "\n"
                                     for i in range(args.items)))
            server.reset()
            server.arrivals.clear()
            proc = subprocess.run(
                [sys.executable, "-m", "shipctl", "ewe", "modify", str(items),
                 "--rate", str(args.rate), "--jobs", str(args.jobs), "--retries", "10",
                 "-o", "json"],
                capture_output=True, text=True, env=env)
            if proc.returncode != 0:
                sys.exit(f"shipctl failed ({proc.returncode}): {proc.stderr[-2000:]}")
            arrivals = sorted(server.arrivals)
            n = len(arrivals)
            span = arrivals[-1] - arrivals[0]
            expected = (n - 1) * interval
            error = (span - expected) / expected
            gaps = [(b - a) / interval for a, b in pairwise(arrivals)]
            worst_error = max(worst_error, error, key=abs)
            worst_gap = min(worst_gap, min(gaps))
            print(f"{run:>3} {n:>8} {span:>8.3f} {expected:>8.3f} {error:>+8.1%} "
                  f"{min(gaps):>9.3f} {statistics.median(gaps):>9.3f} {max(gaps):>7.3f} "
                  f"{busiest_second(arrivals):>11}")
        within = abs(worst_error) <= 0.05 and worst_gap >= 0.9
        print(f"worst: span error {worst_error:+.1%}, smallest gap {worst_gap:.3f}/R: "
              f"{'within' if within else 'OUTSIDE'} the targets")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
