"""Start-up benchmark: median wall time of shipctl invocations against the floor of
`python -c "import typer"` in the same environment.

Targets: `--version` ≤ 1.2× the floor, `--help` ≤ 2×. `fynd transition … --dry-run` is a
whole command: flags → body → request model → the printed request.

    python benchmarks/startup.py [--runs 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def median_ms(argv: list[str], runs: int, env: dict[str, str], stdin: bytes = b"") -> float:
    times = []
    for _ in range(runs + 2):
        start = time.perf_counter()
        subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, check=False)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[2:])  # the first two warm the OS caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    env = dict(os.environ, NO_COLOR="1", COLUMNS="100")
    env.pop("SHIPCTL_SANDBOX", None)
    home = tempfile.mkdtemp()
    env.update(XDG_CONFIG_HOME=home, XDG_CACHE_HOME=home)
    py = sys.executable
    # The console script is what users run; `python -m shipctl` would add runpy's cost.
    shipctl = os.path.join(os.path.dirname(py), "shipctl")
    cases = [
        ("python -c 'import typer' (floor)", [py, "-c", "import typer"], b""),
        ("shipctl --version", [shipctl, "--version"], b""),
        ("shipctl --help", [shipctl, "--help"], b""),
        ("shipctl digest", [shipctl, "digest", "-u", "test", "--password-stdin"], b"123456\n"),
        ("TAB: shipctl ewe <TAB>", [shipctl], b""),
        # a whole command that builds, checks and prints a request (pydantic, requests)
        ("shipctl fynd transition … --dry-run",
         [shipctl, "fynd", "transition", "12345383008471878029", "--to", "bag_confirmed",
          "--line", "1:5", "--line", "2:10", "--reason", "1:Product Not Available@1:3,2:4",
          "--exclude-next-state", "bag_not_confirmed", "--dry-run", "-o", "json"], b""),
    ]
    floor = None
    print(f"{'command':40} {'median ms':>10} {'× floor':>8}")
    for name, argv, stdin in cases:
        case_env = env
        if name.startswith("TAB"):
            case_env = dict(env, _SHIPCTL_COMPLETE="complete_bash", COMP_WORDS="shipctl ewe ",
                            COMP_CWORD="2")
        ms = median_ms(argv, args.runs, case_env, stdin)
        floor = floor or ms
        print(f"{name:40} {ms:10.1f} {ms / floor:8.2f}")


if __name__ == "__main__":
    main()
