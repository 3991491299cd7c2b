"""``--shard K/N``: split one input between N machines or cron entries by key
(docs/conventions.md, Bulk engine)."""

from __future__ import annotations

import hashlib
import re

from shipctl.errors import UsageError

_SHARD = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})\s*")


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → (K, N) with 0 ≤ K < N (``--shard K/N``, 0-based)."""
    match = _SHARD.fullmatch(text or "")
    if match is None:
        raise UsageError(f"--shard {text!r}: expected K/N, e.g. 0/3 (shard K of N, 0-based)")
    k, n = int(match[1]), int(match[2])
    if n < 1 or k >= n:
        raise UsageError(
            f"--shard {text!r}: K must be 0 to N-1 and N at least 1, e.g. 0/3, 1/3, 2/3"
        )
    return k, n


def shard_of(key: str, n: int) -> int:
    # sha256, not hash(): the split must be the same on every machine and every run.
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") % n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    return shard is None or shard_of(key, shard[1]) == shard[0]
