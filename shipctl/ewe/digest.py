"""EWE's request signature (docs/ewe.md, Digest).

digest = base64(md5(utf8(username + msgType + password))); the pushShipment form inserts the
shipment count: base64(md5(username + N + msgType + password)). It never changes for a given
username/msgType/password, so it is a bearer credential and is treated as a secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def compute(username: str, msg_type: str, password: str, count: int | None = None) -> str:
    content = username + ("" if count is None else str(count)) + msg_type + password
    return base64.b64encode(hashlib.md5(content.encode("utf-8")).digest()).decode("ascii")


def matches(expected: str, actual: str) -> bool:
    """Constant-time comparison, so verification leaks nothing through timing."""
    return hmac.compare_digest(expected.strip().encode(), actual.encode())
