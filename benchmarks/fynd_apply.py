"""Fynd bulk throughput against the sandbox, and the tokens one run needs.

Starts `shipctl sandbox --latency 50` in its own process, sends N bodies (each confirming one
shipment) with `shipctl fynd apply --jobs 16`, and prints:
  - throughput ÷ the latency-bound limit (jobs / latency = 16 / 0.05 s = 320 req/s), target ≥ 0.90
  - client CPU time per request (user + sys of the shipctl process ÷ N)
  - the tokens the sandbox issued for the run (target: 1) and whether every shipment moved once.

    python benchmarks/fynd_apply.py [--items 2000] [--jobs 16] [--latency 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body(i: int) -> dict:
    return {"statuses": [{"shipments": [{"identifier": f"BENCH-{i:06d}", "products": []}],
                          "status": "bag_confirmed", "exclude_bags_next_state": None}]}


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--latency", type=float, default=50.0, help="ms")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="shipctl-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "shipctl", "sandbox", "--port", str(port),
         "--latency", str(args.latency)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert sandbox.stdout is not None
        sandbox.stdout.readline()  # the first line means it is listening
        items = work / "items.jsonl"
        items.write_text("".join(json.dumps(body(i)) + "\n" for i in range(args.items)))
        # a fresh cache directory: the run fetches its token, as a first run of the day does
        env = dict(os.environ, SHIPCTL_FYND_URL=f"{base}/fynd", SHIPCTL_FYND_COMPANY_ID="1",
                   SHIPCTL_FYND_CLIENT_ID="sandbox", SHIPCTL_FYND_CLIENT_SECRET="sandbox-secret",
                   XDG_CONFIG_HOME=str(work), XDG_CACHE_HOME=str(work / "cache"))
        limit = args.jobs / (args.latency / 1000)

        cpu_before = children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "shipctl", "fynd", "apply", str(items), "--jobs",
             str(args.jobs), "-o", "json"],
            capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu_before
        if proc.returncode != 0:
            sys.exit(f"shipctl failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)["summary"]
        engine = float(summary["elapsed_seconds"])
        with urllib.request.urlopen(f"{base}/_sandbox/stats", timeout=10) as answer:
            fynd = json.load(answer)["fynd"]
        moved = fynd["transitions"]
        once = sum(1 for n in moved.values() if n == 1)
        print(f"items {args.items}, jobs {args.jobs}, latency {args.latency:.0f} ms; "
              f"latency-bound limit {limit:.0f} req/s")
        print(f"shipctl: {args.items / engine:7.1f} req/s over the send phase ({engine:.2f} s) "
              f"= {args.items / engine / limit:.3f} of the limit (target ≥ 0.90)")
        print(f"shipctl: {args.items / wall:7.1f} req/s whole command incl. start-up, the "
              f"parse pass and the token ({wall:.2f} s) = {args.items / wall / limit:.3f} "
              "of the limit")
        print(f"shipctl: client CPU {cpu * 1000 / args.items:.3f} ms per request "
              f"(user+sys {cpu:.2f} s)")
        print(f"sandbox: tokens issued {fynd['tokens_issued']} (target 1); "
              f"{once} of {args.items} shipments transitioned exactly once")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
