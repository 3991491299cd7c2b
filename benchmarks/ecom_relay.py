"""`ecom listen --forward-to`: the durable relay's throughput and memory.

1. **Throughput**: a store holding --pushes pending pushes of --awbs AWBs (as `ecom listen
   --forward-to` leaves them when the downstream was away) is relayed by `shipctl ecom listen
   --forward-to` at the default concurrency to a downstream that answers each push after
   --delay (50 ms); prints pushes forwarded per second, and checks that each arrived once and
   in per-AWB order.
2. **Memory**: --queued pushes (4 KB bodies) queued behind a downstream that is down
   (connections refused): the listener's RSS once its relay has tried every AWB, against the
   same listener with an empty queue. A relay that held the queue in memory would grow by the
   bodies' size (40 MB); this one reads at most --forward-concurrency bodies at a time.

    python benchmarks/ecom_relay.py [--pushes 2000] [--awbs 500] [--delay 0.05]
                                    [--queued 10000]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shipctl.ecom.receive.receiver import Push  # noqa: E402
from shipctl.ecom.receive.store import Store  # noqa: E402

USER, PASSWORD = "bench", "bench-password"


def fill(path: Path, count: int, awbs: int, pad: int = 0) -> list[tuple[str, str]]:
    """``count`` pending pushes of ``awbs`` AWBs, as the listener stores them with a relay."""
    order = []
    with Store(path, forwarding=True) as store:
        futures = []
        for n in range(count):
            awb, number = f"80{n % awbs:08d}", str(10_000_000 + n)
            body = json.dumps({"awb": awb, "datetime": "2024-03-05 14:07:09", "status": "s",
                               "status_update_number": number, "pad": "x" * pad}).encode()
            futures.append(store.add(Push(
                body=body, headers=[("content-type", "application/json"),
                                    ("authorization", "[redacted]")],
                awb=awb, datetime="2024-03-05 14:07:09", status_update_number=number,
                reason_code_number="777")))
            order.append((awb, number))
        for future in futures:
            future.result()
    return order


class Downstream:
    def __init__(self, delay: float) -> None:
        self.got: list[str] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # else its head and body, written apart, wait for the relay's delayed ACK
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                time.sleep(delay)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                with outer.lock:
                    outer.got.append(json.loads(body)["status_update_number"])

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def listen(store: Path, url: str, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "shipctl", "ecom", "listen", "--port", "0", "--store",
             str(store), "--username", USER, "--password-stdin", "--forward-to", url, *extra],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=sink)
    proc.stdin.write(PASSWORD.encode() + b"\n")
    proc.stdin.close()
    return proc


def wait_for(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def throughput(args, work: Path) -> None:
    store = work / "throughput.sqlite3"
    order = fill(store, args.pushes, args.awbs)
    downstream = Downstream(args.delay)
    log = work / "throughput.log"
    proc = listen(store, downstream.url, log)
    try:
        wait_for(lambda: "receiving pushes at" in log.read_text(), 30, "the listener")
        wait_for(lambda: downstream.got, 30, "the first delivery")
        began = time.monotonic()
        first = len(downstream.got)
        wait_for(lambda: len(downstream.got) >= args.pushes, 600, "every delivery")
        elapsed = time.monotonic() - began
    finally:
        stop(proc)
    got = list(downstream.got)
    per_awb: dict[str, list[str]] = {}
    for awb, number in order:
        per_awb.setdefault(awb, []).append(number)
    awb_of = dict((number, awb) for awb, number in order)
    seen: dict[str, list[str]] = {}
    for number in got:
        seen.setdefault(awb_of[number], []).append(number)
    rate = (args.pushes - first) / elapsed
    print(f"relay throughput: {args.pushes} pushes of {args.awbs} AWBs to a {args.delay * 1000:.0f}"
          f" ms downstream at the default concurrency: {rate:,.0f} pushes/s"
          f" ({elapsed:.1f} s); each once: {len(got) == len(set(got)) == args.pushes};"
          f" per-AWB order kept: {seen == per_awb}")


def memory(args, work: Path) -> None:
    with socket.socket() as down:  # bound, not listening: connections are refused
        down.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{down.getsockname()[1]}/hook"
        figures = {}
        for name, count in (("empty", 0), ("queued", args.queued)):
            store = work / f"memory-{name}.sqlite3"
            fill(store, count, min(args.queued, 1000), pad=4096)
            log = work / f"memory-{name}.log"
            proc = listen(store, url, log, "--forward-backoff", "1s,5s")
            try:
                wait_for(lambda log=log: "receiving pushes at" in log.read_text(), 30,
                         "the listener")
                if count:  # every AWB's first push has been tried (and refused) at least once
                    wait_for(lambda log=log: log.read_text().count("attempt 1,") >= 1000, 120,
                             "the relay to try every AWB")
                    time.sleep(2)
                else:
                    time.sleep(2)
                figures[name] = rss_mb(proc.pid)
            finally:
                stop(proc)
    print(f"relay memory: listener RSS {figures['empty']:.1f} MB with nothing queued,"
          f" {figures['queued']:.1f} MB with {args.queued:,} pushes (4 KB each,"
          f" {args.queued * 4 / 1024:.0f} MB of bodies) queued behind a downstream that is down"
          f" (+{figures['queued'] - figures['empty']:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=2000)
    parser.add_argument("--awbs", type=int, default=500)
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--queued", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        throughput(args, Path(tmp))
        memory(args, Path(tmp))


if __name__ == "__main__":
    main()
