"""Which hosts never leave this machine: the one answer for every "is this loopback?" question.

Standard library only (``ipaddress``), so the sandbox can ask without importing requests.
"""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """True for ``localhost``, any ``*.localhost`` name, 127.0.0.0/8, ``::1`` and
    IPv4-mapped loopback (``::ffff:127.0.0.1``); brackets, a trailing dot and an IPv6 zone
    (``%eth0``) are allowed. Any other name is not: it is the resolver's to place.
    """
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):  # an IPv6 literal as written in a URL
        host = host[1:-1]
    host = host.rstrip(".")
    # RFC 6761 §6.3: "localhost." and every name below it resolve to loopback, by rule.
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    # Python before 3.13 says False for ::ffff:127.0.0.1, which is 127.0.0.1 on the wire.
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)
