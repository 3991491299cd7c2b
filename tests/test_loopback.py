"""shipctl.loopback: the one answer to "does this host stay on this machine?".

The plain-http warning (shipctl.http) and the sandbox's "not a loopback address" warning
(shipctl.sandbox) both ask it, so they agree on ::ffff:127.0.0.1 and x.localhost.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from shipctl.loopback import is_loopback


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.9.8.7",  # all of 127.0.0.0/8
        "::1",
        "[::1]",
        "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1",  # IPv4-mapped: 127.0.0.1 on the wire (Python < 3.13 says no)
        "[::ffff:127.0.0.1]",
        "::ffff:7f00:1",  # the same address written in hex
        "localhost",
        "LOCALHOST",
        "localhost.",
        "x.localhost",  # RFC 6761 §6.3: every name under localhost. is loopback
        "api.dev.localhost",
        "X.LocalHost.",
        "::1%lo",  # a zone index does not change the address
    ],
)
def test_loopback_hosts(host):
    assert is_loopback(host) is True


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "192.168.1.5",
        "10.0.0.1",
        "::ffff:10.0.0.1",
        "2001:db8::1",
        "example.com",
        "localhost.example.com",  # a real domain that merely starts with "localhost"
        "notlocalhost",
        "xlocalhost",
        "127.0.0.1.nip.io",  # resolves to 127.0.0.1 through DNS: the resolver's business
        "",
        "[::1",
    ],
)
def test_other_hosts(host):
    assert is_loopback(host) is False


def test_http_and_the_sandbox_ask_the_same_function():
    import shipctl.http
    import shipctl.sandbox

    assert shipctl.http.is_loopback is is_loopback
    assert shipctl.sandbox.is_loopback is is_loopback


@pytest.mark.parametrize("host", ["::ffff:127.0.0.1", "x.localhost"])
def test_no_plain_http_warning_for_the_hosts_that_used_to_disagree(host):
    from shipctl import http

    warnings: list[str] = []
    bracketed = f"[{host}]" if ":" in host else host
    http.warn_plain_http(f"http://{bracketed}:8000/", sends_credentials=True,
                         warn=warnings.append)
    assert warnings == []


def test_asking_imports_no_http_library():
    # The sandbox imports it, and the sandbox must not pull requests in.
    code = ("import sys, shipctl.loopback; "
            "print('requests' in sys.modules, 'urllib3' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.split() == ["False", "False"]
