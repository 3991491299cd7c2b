"""`shipctl ecom validate` on large JSON Lines captures: time and peak memory.

Prints:
  - the time of `shipctl ecom validate FILE > /dev/null` on a generated 200,000-line JSONL,
    against a plain `json.loads`-per-line loop over the same file (in its own process, start-up
    included in both), target ≤ 3×;
  - the peak RSS of `ecom validate` at 10,000 and at 1,000,000 lines, target growth ≤ 20 MB
    (validate streams: nothing per payload is kept for the summary).

    python benchmarks/ecom_validate.py [--lines 200000] [--small 10000] [--large 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

BASELINE = """
import json, sys
with open(sys.argv[1], "rb") as f:
    for line in f:
        json.loads(line)
"""


def generate(path: Path, lines: int) -> None:
    """Realistic pushes: a few AWBs' scans, one in 500 with a problem, one in 50 warned."""
    rng = random.Random(1)
    with path.open("w") as f:
        for i in range(lines):
            code = rng.choice(["001", "002", "003", "006", "303", "999", "777", "219"])
            push = {
                "awb": str(8_000_000_000 + i // 5),
                "datetime": f"2024-03-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:{i % 59:02d}",
                "status": "Shipment in transit",
                "reason_code": f"{code} - Shipment in transit",
                "reason_code_number": code if i % 50 else "4242",
                "location": "JRD",
                "Employee": "Ravi Kumar",
                "status_update_number": str(40_000_000 + i) if i % 500 else f"{i}x",
                "order_number": f"ORDER-{i // 5}",
                "city": "Vadodara",
                "ref_awb": "",
            }
            f.write(json.dumps(push) + "\n")


def timed(argv: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak RSS in KiB, exit code) of one child process, stdout discarded."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        proc = subprocess.Popen(argv, stdout=null, stderr=null, cwd=REPO)
        _pid, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def validate(path: Path) -> list[str]:
    return [sys.executable, "-m", "shipctl", "ecom", "validate", str(path)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N for the timing")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="shipctl-bench-") as tmp:
        path = Path(tmp) / "pushes.jsonl"
        generate(path, args.lines)
        size = path.stat().st_size / 2**20
        base = min(timed([sys.executable, "-c", BASELINE, str(path)])[0]
                   for _ in range(args.repeat))
        runs = [timed(validate(path)) for _ in range(args.repeat)]
        ours = min(run[0] for run in runs)
        print(f"{args.lines:,} lines ({size:.0f} MiB)")
        print(f"  json.loads per line : {base:6.2f} s")
        print(f"  ecom validate       : {ours:6.2f} s  (exit {runs[0][2]})")
        print(f"  ratio               : {ours / base:6.2f}x  (target <= 3x)")

        rss = {}
        for lines in (args.small, args.large):
            generate(path, lines)
            _seconds, peak, _code = timed(validate(path))
            rss[lines] = peak / 1024
            print(f"peak RSS at {lines:>9,} lines: {rss[lines]:6.1f} MiB")
        growth = rss[args.large] - rss[args.small]
        print(f"  growth              : {growth:6.1f} MiB  (target <= 20 MB)")


if __name__ == "__main__":
    main()
