"""EWE bulk throughput against the sandbox, and client CPU time per request.

Starts `shipctl sandbox --latency 50` in its own process, sends N modifications with
`shipctl ewe modify --rate 0 --jobs 16`, and prints:
  - throughput ÷ the latency-bound limit (jobs / latency = 16 / 0.05 s = 320 req/s), target ≥ 0.90
  - client CPU time per request (user + sys of the shipctl process ÷ N), target ≤ 0.5 ms
  - the same bodies sent with `xargs -P16 curl`, side by side.

    python benchmarks/ewe_throughput.py [--items 3000] [--jobs 16] [--latency 50]
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
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shipctl.ewe import client  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def body(i: int) -> dict:
    return {
        "referenceNo": f"BENCH-{i:06d}",
        "reason": "benchmark",
        "from": {"name": "Dummy Duck", "phone": "0491-570-156", "suburb": "Greenacre",
                 "state": "NSW", "lines": ["457 Waterloo Road"], "postcode": "2190"},
        "to": {"name": "Melbourne DC", "phone": "(03) 5550 1234", "suburb": "Moorabbin Airport",
               "state": "VIC", "lines": ["6 Chifley Drive"], "postcode": "3194"},
        "merchandise": [{"sku": "NG0000X1", "quantity": 1, "weight": 1, "value": 10.99}],
    }


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
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
        env = dict(os.environ, SHIPCTL_EWE_URL=f"{base}/eweApi/ewe/api",
                   SHIPCTL_EWE_USERNAME="sandbox", SHIPCTL_EWE_PASSWORD="sandbox-password",
                   XDG_CONFIG_HOME=str(work))
        limit = args.jobs / (args.latency / 1000)

        cpu_before = children_cpu()
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "shipctl", "ewe", "modify", str(items), "--rate", "0",
             "--jobs", str(args.jobs), "-o", "json"],
            capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        cpu = children_cpu() - cpu_before
        if proc.returncode != 0:
            sys.exit(f"shipctl failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)["summary"]
        engine = float(summary["elapsed_seconds"])
        print(f"items {args.items}, jobs {args.jobs}, latency {args.latency:.0f} ms; "
              f"latency-bound limit {limit:.0f} req/s")
        print(f"shipctl: {args.items / engine:7.1f} req/s over the send phase ({engine:.2f} s) "
              f"= {args.items / engine / limit:.3f} of the limit (target ≥ 0.90)")
        print(f"shipctl: {args.items / wall:7.1f} req/s whole command incl. start-up and the "
              f"parse pass ({wall:.2f} s) = {args.items / wall / limit:.3f} of the limit")
        print(f"shipctl: client CPU {cpu * 1000 / args.items:.3f} ms per request "
              f"(user+sys {cpu:.2f} s; target ≤ 0.5 ms)")

        if shutil.which("curl") and shutil.which("xargs"):
            bodies = work / "bodies"
            bodies.mkdir()
            creds = client.Credentials("sandbox", "sandbox-password")
            for i in range(args.items):
                (bodies / f"{i:06d}.json").write_bytes(client.encode(client.envelope(body(i),
                                                                                     creds)))
            listing = "\n".join(str(p) for p in sorted(bodies.iterdir())) + "\n"
            cpu_before = children_cpu()
            started = time.perf_counter()
            subprocess.run(
                ["xargs", f"-P{args.jobs}", "-I{}", "curl", "-s", "-o", "/dev/null", "-X", "POST",
                 "-H", "Content-Type: application/javascript", "--data-binary", "@{}",
                 f"{base}/eweApi/ewe/api/modifyShipment"],
                input=listing, text=True, check=True)
            wall = time.perf_counter() - started
            cpu = children_cpu() - cpu_before
            print(f"xargs -P{args.jobs} curl: {args.items / wall:7.1f} req/s "
                  f"= {args.items / wall / limit:.3f} of the limit; "
                  f"CPU {cpu * 1000 / args.items:.3f} ms per request (a process per request)")
        stats = json.loads(subprocess.run(
            ["curl", "-s", f"{base}/_sandbox/stats"], capture_output=True, text=True).stdout
            or "{}")
        applied = stats.get("ewe", {}).get("applied", {})
        twice = sum(1 for count in applied.values() if count != 2)
        print(f"sandbox: {len(applied)} references applied; {twice} not applied exactly twice "
              f"(once by shipctl, once by curl)")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
