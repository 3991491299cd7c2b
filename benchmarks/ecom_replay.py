"""`shipctl ecom replay` throughput against a slow webhook, and each AWB's scans in order.

Replays N scans over M AWBs (shuffled: every AWB's scans must be sorted back into time order)
with `--jobs J` to a receiver that answers after `--latency` ms, and prints the throughput
against the latency-bound limit (J / latency: 16 / 0.05 s = 320 req/s), and whether every AWB's
scans arrived in order.

The receiver: the sandbox's Ecom receiver (`shipctl sandbox --latency 50`) when it is
registered, else a threaded receiver in this process (`--receiver local`).

    python benchmarks/ecom_replay.py [--scans 10000] [--awbs 1000] [--jobs 16] [--latency 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import shipctl.ecom  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scans(count: int, awbs: int) -> list[dict]:
    rng = random.Random(9)
    out = []
    for i in range(count):
        awb = str(8_000_000_000 + i % awbs)
        step = i // awbs  # this AWB's n-th scan: later in time, later number
        out.append({
            "awb": awb, "datetime": f"2024-03-{1 + step:02d} {rng.randrange(24):02d}:00:00",
            "status": "Shipment in transit", "reason_code": "303 - Shipment in transit",
            "reason_code_number": "303", "location": "JRD", "Employee": "Ravi Kumar",
            "status_update_number": str(50_000_000 + i), "order_number": f"ORDER-{awb}",
            "city": "Vadodara", "ref_awb": "",
        })
    rng.shuffle(out)
    return out


class LocalReceiver:
    """Answers each push with the success answer of Ecom's manual (docs/ecom.md, Answers)
    after ``latency`` seconds; records the arrival order of each AWB's numbers."""

    def __init__(self, latency: float) -> None:
        self.arrivals: dict[str, list[int]] = {}
        lock = threading.Lock()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out as two writes: without this, Nagle's algorithm
                # and the client's delayed ACK hold back every answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                data = json.loads(body)
                with lock:
                    arrivals.setdefault(data["awb"], []).append(
                        int(data["status_update_number"]))
                time.sleep(latency)
                answer = json.dumps({"awb": data["awb"], "status": True,
                                     "status_update_number": int(data["status_update_number"])
                                     }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 128
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ecom"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--awbs", type=int, default=1_000)
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--latency", type=float, default=50.0, help="ms")
    parser.add_argument("--receiver", choices=["auto", "sandbox", "local"], default="auto")
    args = parser.parse_args()
    use_sandbox = args.receiver == "sandbox" or (
        args.receiver == "auto" and shipctl.ecom.PROVIDER.simulator is not None)

    work = Path(tempfile.mkdtemp(prefix="shipctl-bench-"))
    items = scans(args.scans, args.awbs)
    path = work / "scans.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in items))
    env = dict(os.environ, XDG_CONFIG_HOME=str(work), XDG_DATA_HOME=str(work),
               SHIPCTL_ECOM_USERNAME="sandbox", SHIPCTL_ECOM_PASSWORD="sandbox-password")
    sandbox = local = None
    if use_sandbox:
        port = free_port()
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "shipctl", "sandbox", "--port", str(port),
             "--latency", str(args.latency)], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, env=env)
        assert sandbox.stdout is not None
        sandbox.stdout.readline()  # the first line means it is listening
        env["SHIPCTL_ECOM_URL"] = f"http://127.0.0.1:{port}{shipctl.ecom.SANDBOX_PATH}"
    else:
        local = LocalReceiver(args.latency / 1000)
        env["SHIPCTL_ECOM_URL"] = local.url
    try:
        limit = args.jobs / (args.latency / 1000)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "shipctl", "ecom", "replay", str(path), "--jobs",
             str(args.jobs), "-o", "json"], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            sys.exit(f"shipctl failed ({proc.returncode}): {proc.stderr[-2000:]}")
        summary = json.loads(proc.stdout)["summary"]
        engine = float(summary["elapsed_seconds"])
        print(f"{args.scans} scans over {args.awbs} AWBs, --jobs {args.jobs}, "
              f"latency {args.latency:.0f} ms ({'sandbox' if sandbox else 'local receiver'}); "
              f"latency-bound limit {limit:.0f} req/s")
        print(f"  send phase   : {args.scans / engine:7.1f} req/s ({engine:.2f} s) = "
              f"{args.scans / engine / limit:.3f} of the limit")
        print(f"  whole command: {args.scans / wall:7.1f} req/s ({wall:.2f} s, start-up, parse"
              f" pass and sort included) = {args.scans / wall / limit:.3f} of the limit")
        print(f"  succeeded {summary['succeeded']}, failed {summary['failed']}, "
              f"blocked {summary['blocked']}")
        if local is not None:
            out_of_order = sum(1 for numbers in local.arrivals.values()
                               if numbers != sorted(numbers))
            print(f"  AWBs whose scans arrived out of order: {out_of_order} "
                  f"of {len(local.arrivals)}")
    finally:
        if sandbox is not None:
            sandbox.terminate()
            sandbox.wait(timeout=10)
        if local is not None:
            local.server.shutdown()


if __name__ == "__main__":
    main()
