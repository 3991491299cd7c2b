"""`shipctl ecom export`: captured pushes as JSON Lines that `ecom replay` reads (SPEC §7).

One push per line, in arrival order — so each AWB's pushes keep the order the receiver got
them — each line the push's body exactly as received when that body is one line (as every
sender that does not pretty-print writes it), else the same JSON re-serialised on one line
(``Push.compact``: a JSON text's line breaks are whitespace between tokens, so only layout
changes; the raw bytes stay in the store). Round trip: listen → export → replay into another
listener stores byte-identical bodies, in the same order per AWB.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from shipctl.errors import UsageError

_SINCE = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})(?:[ T](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2}))?)?"
)


def parse_since(text: str) -> str:
    """``--since`` as the push datetime text it compares with: ``YYYY-mm-dd HH:MM:SS``."""
    from datetime import datetime

    match = _SINCE.fullmatch(text.strip())
    if match is None:
        raise UsageError(f"--since {text}: give a push datetime (naive IST) as YYYY-mm-dd,"
                         " YYYY-mm-dd HH:MM or YYYY-mm-dd HH:MM:SS")
    when = (f"{match['date']} {match['hour'] or '00'}:{match['minute'] or '00'}"
            f":{match['second'] or '00'}")
    try:
        datetime.strptime(when, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise UsageError(f"--since {text}: not a real date and time") from None
    return when


def run(out: Any, store_path: str | Path, *, awbs: list[str] | None = None,
        since: str | None = None) -> int:
    """Write the matching pushes to ``out.stdout``; a one-line summary to stderr. Exit 0."""
    from shipctl.ecom import store

    since_text = parse_since(since) if since is not None else None
    connection = store.connect(store_path, create=False)
    count, seen = 0, set()
    try:
        for row in _rows(connection, awbs, since_text):
            out.stdout.write(row.compact + "\n")
            count += 1
            seen.add(row.awb)
    finally:
        connection.close()
    out.stdout.flush()
    filters = []
    if awbs:
        filters.append("awb " + ", ".join(awbs))
    if since_text:
        filters.append(f"datetime ≥ {since_text}")
    matching = f" matching {' and '.join(filters)}" if filters else ""
    out.info(f"exported {count} push(es) of {len(seen)} AWB(s){matching} from {store_path}")
    return 0


def _rows(connection: Any, awbs: list[str] | None, since: str | None) -> Any:
    from shipctl.ecom import store

    if not awbs:
        yield from store.select(connection, since=since)
        return
    # several AWBs: one arrival-ordered stream, so the output is the same whatever their order
    rows = [row for awb in dict.fromkeys(awbs)
            for row in store.select(connection, awb=awb, since=since)]
    yield from sorted(rows, key=lambda row: row.id)
