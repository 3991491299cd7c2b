"""`ecom listen` under 64 concurrent keep-alive clients: pushes accepted per second, latency.

Starts `shipctl ecom listen` (uvicorn) in its own process and POSTs valid pushes, each with a
new status_update_number, from 64 keep-alive connections for --seconds; prints accepted pushes
per second (target ≥ 1,000/s; each committed — WAL, synchronous=FULL — before its 200), p50
and p99 latency, and checks that the store holds every push that got a 200. Then the same
load against a minimal ``http.server`` (ThreadingHTTPServer, a thread per connection) receiver
running the same receiver rules and the same store (so only the server differs).

Load generator: wrk (with a Lua script that numbers each POST) when it is installed
(`apt-get install -y wrk`), else a Python client in a separate process (64 threads, one
http.client connection each). The machine has 2 cores: client and server share them, so the
figures are a floor for the server.

    python benchmarks/ecom_listen.py [--seconds 10] [--connections 64] [--python-client]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

USER, PASSWORD = "bench", "bench-password"
AUTH = "Basic YmVuY2g6YmVuY2gtcGFzc3dvcmQ="  # base64("bench:bench-password")
PUSH = {
    "awb": "8012345671", "datetime": "2024-03-05 14:07:09", "status": "remark",
    "reason_code": "777 - RTS - Return To Shipper", "reason_code_number": "777",
    "location": "JRD", "Employee": "Name of Employee", "status_update_number": "NUMBER",
    "order_number": "ORDER-1", "city": "Vadodara", "ref_awb": "",
}

# The comparison: the same Receiver and Store behind http.server instead of uvicorn.
HTTP_SERVER = textwrap.dedent("""
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from shipctl.ecom.receive.receiver import MAX_BODY, Receiver
    from shipctl.ecom.receive.store import Store

    receiver, store = Receiver(sys.argv[2], sys.argv[3]), Store(sys.argv[1])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else head and body wait for a delayed ACK each time
        def log_message(self, *args):
            pass
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(length, MAX_BODY + 1))
            answer = receiver.receive(dict(self.headers), body)
            if answer.push is not None:
                store.add(answer.push).result()  # committed before the 200
            body = answer.body
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 2048

    server = Server(("127.0.0.1", 0), Handler)
    print(f"receiving pushes at http://127.0.0.1:{server.server_address[1]}/ ", flush=True,
          file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        store.close()
""")

WRK_SCRIPT = textwrap.dedent("""
    local template = [[TEMPLATE]]
    local next_id = 1
    function setup(thread)
      thread:set("id", next_id)
      next_id = next_id + 1
    end
    function init(args)
      n = 0
    end
    function request()
      n = n + 1
      local body = template:gsub("NUMBER", tostring(id * 100000000 + n))
      return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                      ["Authorization"] = "AUTH"}, body)
    end
""")

# The fallback load generator, run in its own process.
PY_CLIENT = textwrap.dedent("""
    import http.client, json, sys, threading, time
    port, connections, seconds, template, auth = (int(sys.argv[1]), int(sys.argv[2]),
                                                  float(sys.argv[3]), sys.argv[4], sys.argv[5])
    latencies, statuses, lock = [], {}, threading.Lock()
    stop = time.monotonic() + seconds

    def client(k):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, n = [], 0
        while time.monotonic() < stop:
            n += 1
            body = template.replace("NUMBER", str(k * 100000000 + n)).encode()
            started = time.perf_counter()
            connection.request("POST", "/", body=body, headers={
                "Content-Type": "application/json", "Authorization": auth})
            answer = connection.getresponse()
            answer.read()
            mine.append(time.perf_counter() - started)
            with lock:
                statuses[answer.status] = statuses.get(answer.status, 0) + 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(k + 1,)) for k in range(connections)]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    print(json.dumps({"ok": statuses.get(200, 0), "other": sum(statuses.values())
                      - statuses.get(200, 0), "seconds": elapsed, "p50": pick(0.50),
                      "p99": pick(0.99)}))
""")


def start(command: list[str], log: Path) -> tuple[subprocess.Popen, int]:
    # the log goes to a file: one line per push would fill a pipe nobody reads
    with open(log, "wb") as sink:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=sink,
                                stdout=subprocess.DEVNULL)
    proc.stdin.write(PASSWORD.encode() + b"\n")
    proc.stdin.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = re.search(r"receiving pushes at http://[^:]+:(\d+)/", log.read_text())
        if match:
            return proc, int(match.group(1))
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {log.read_text()}")


def run_wrk(port: int, connections: int, seconds: float, work: Path) -> dict:
    template = json.dumps(PUSH)
    script = work / "push.lua"
    script.write_text(WRK_SCRIPT.replace("TEMPLATE", template).replace("AUTH", AUTH))
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
         f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    total = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))
    elapsed = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    other = int(non2xx.group(1)) if non2xx else 0
    return {"ok": total - other, "other": other, "seconds": elapsed, "p50": ms("50%"),
            "p99": ms("99%"), "socket_errors": errors.group(1) if errors else "none"}


def run_python(port: int, connections: int, seconds: float) -> dict:
    out = subprocess.run([sys.executable, "-c", PY_CLIENT, str(port), str(connections),
                          str(seconds), json.dumps(PUSH), AUTH],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def stored(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return connection.execute("SELECT count(*) FROM pushes").fetchone()[0]
    finally:
        connection.close()


def measure(name: str, command: list[str], store: Path, args, use_wrk: bool, work: Path) -> None:
    proc, port = start(command, work / f"{store.stem}.log")
    try:
        if use_wrk:
            result = run_wrk(port, args.connections, args.seconds, work)
        else:
            result = run_python(port, args.connections, args.seconds)
    finally:
        proc.send_signal(2)  # SIGINT: a clean stop
        proc.wait(30)
    rows = stored(store)
    rate = result["ok"] / result["seconds"]
    print(f"{name:<34} {rate:>8.0f}/s  p50 {result['p50']:>6.1f} ms  p99 {result['p99']:>6.1f} ms"
          f"  non-200 {result['other']}  stored {rows} ≥ 200s {result['ok']}:"
          f" {'yes' if rows >= result['ok'] else 'NO'}"
          + (f"  socket errors: {result['socket_errors']}" if "socket_errors" in result else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--python-client", action="store_true",
                        help="use the Python load generator even when wrk is installed")
    args = parser.parse_args()
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    generator = ("wrk -t2 with a Lua script" if use_wrk
                 else f"a Python client in its own process ({args.connections} threads)")
    print(f"{args.connections} keep-alive connections for {args.seconds:g} s; load from"
          f" {generator}; client and server share this machine's {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        listen_store = work / "listen.sqlite3"
        measure("shipctl ecom listen (uvicorn)",
                [sys.executable, "-m", "shipctl", "ecom", "listen", "--port", "0",
                 "--store", str(listen_store), "--username", USER, "--password-stdin"],
                listen_store, args, use_wrk, work)
        baseline_store = work / "baseline.sqlite3"
        measure("http.server, same receiver+store",
                [sys.executable, "-c", HTTP_SERVER, str(baseline_store), USER, PASSWORD],
                baseline_store, args, use_wrk, work)


if __name__ == "__main__":
    main()
