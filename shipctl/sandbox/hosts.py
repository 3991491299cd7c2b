"""Which host names a request may give: the sandbox answers only requests for itself, so a web
page using DNS rebinding cannot reach a developer's sandbox from a browser
(docs/conventions.md, Sandbox)."""

from __future__ import annotations

import ipaddress

from shipctl.loopback import is_loopback


def plain_host(host: str) -> str:
    """A host as compared: lower case, no IPv6 brackets, no trailing dot."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.rstrip(".")


def split_host_header(value: str) -> str | None:
    """The host part of a ``Host`` value (``127.0.0.1:8765``, ``[::1]:8765``, ``localhost``);
    None when it is not ``host[:port]`` (RFC 9110 §7.2), e.g. a bare IPv6 address."""
    value = value.strip()
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[: end + 1], value[end + 1 :]
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
    port = rest[1:]
    if rest and not (rest[0] == ":" and (port == "" or port.isascii() and port.isdigit())):
        return None
    if any(c.isspace() or not c.isprintable() or c in "/?#@\\" for c in host):
        return None
    return host


def accepted(name: str, given: str, bound: str, wildcard: bool) -> bool:
    """Whether a request whose Host (or absolute target) names NAME is answered by a server
    started with ``--host GIVEN`` and bound to the address BOUND.

    Loopback names and addresses, GIVEN and BOUND; on a WILDCARD bind also any IP address (the
    machine's own, as other machines reach it). Any other *name* is refused: DNS rebinding
    needs a name the attacker controls, and a browser sends that name, whatever address it was
    made to resolve to.
    """
    name = plain_host(name)
    if is_loopback(name) or name in (plain_host(given), bound):
        return True
    if not wildcard:
        return False
    try:
        ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    return True
