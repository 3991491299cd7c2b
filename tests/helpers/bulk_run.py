"""Run the bulk engine in its own process, for the crash and signal tests.

Each job's send() appends the job id to --log (one line, flushed) and then sleeps, so a test can
see which requests were really made even when this process is killed with SIGKILL. Exits with
``summary.exit_code()``, as the CLI does.

    python tests/helpers/bulk_run.py --count 200 --jobs 4 --sleep 0.02 \
        --journal j.db --report r.jsonl --log sent.log
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from shipctl import secrets
from shipctl.batch import BulkOptions, Job, Outcome, run
from shipctl.output import Output

# Put in every payload: a journal or report that contains it has stored a payload.
PAYLOAD_SECRET = "payload-secret-7f3a9c"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.02)
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--grace", type=float, default=5.0)
    parser.add_argument("--keys", type=int, default=0, help="ordering keys (0 = none)")
    parser.add_argument("--journal", type=Path)
    parser.add_argument("--report", type=Path)
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    secrets.register("password-hunter2")
    log_fd = os.open(args.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def send(job: Job) -> Outcome:
        os.write(log_fd, f"{job.id}\n".encode())  # one O_APPEND write: a whole line or none
        time.sleep(args.sleep)
        return Outcome(True, "Modify success!", code=0)

    def jobs():
        for i in range(args.count):
            yield Job(
                id=f"item-{i:04d}",
                keys=(f"key-{i % args.keys}",) if args.keys else (),
                label=f"TEST{i:04d}",
                where=f"bulk.jsonl:{i + 1} item {i + 1}",
                payload={"referenceNo": f"TEST{i:04d}", "note": PAYLOAD_SECRET},
            )

    options = BulkOptions(
        jobs=args.jobs, rate=args.rate, journal=args.journal, report=args.report,
        grace_seconds=args.grace, command="test helper",
    )
    summary = run(jobs(), send, options, Output(json_mode=args.json), total=args.count)
    return summary.exit_code()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
