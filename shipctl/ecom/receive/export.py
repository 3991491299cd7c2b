"""`shipctl ecom export`: captured pushes as JSON Lines that `ecom replay` reads (docs/ecom.md).

One push per line, in arrival order — so each AWB's pushes keep the order the receiver got
them — each line the push's body exactly as received when that body is one line (as every
sender that does not pretty-print writes it), else the same JSON re-serialised on one line
(``Push.compact``: a JSON text's line breaks are whitespace between tokens, so only layout
changes; the raw bytes stay in the store). Round trip: listen → export → replay into another
listener stores byte-identical bodies, in the same order per AWB.

**Strict JSON.** Every line is RFC 8259 JSON: a body holding ``NaN`` or ``Infinity`` (which
Python's parser, and so the receiver, may have let through) has those written as ``null``, and
the summary says how many; a multi-line body is put on one line by dropping the whitespace
between its tokens, so a number keeps its text (``1e999`` is not turned into ``Infinity``).

``--conflicts`` writes the conflicts table instead, one JSON object per line; ``ecom forward``
(``forward_status``) shows the relay's queue and puts dead pushes back in it.
"""

from __future__ import annotations

import json
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
        since: str | None = None, unforwarded: bool = False) -> int:
    """Write the matching pushes to ``out.stdout``; a one-line summary to stderr. Exit 0."""
    from shipctl.ecom.receive import store

    since_text = parse_since(since) if since is not None else None
    connection = store.connect(store_path, create=False)
    count, seen, mended = 0, set(), 0
    try:
        for row in _rows(connection, awbs, since_text, unforwarded):
            line, changed = strict_line(row.body)
            out.stdout.write(line + "\n")
            count += 1
            mended += changed
            seen.add(row.awb)
    finally:
        connection.close()
    out.stdout.flush()
    filters = []
    if unforwarded:
        filters.append("not forwarded")
    if awbs:
        filters.append("awb " + ", ".join(awbs))
    if since_text:
        filters.append(f"datetime ≥ {since_text}")
    matching = f" matching {' and '.join(filters)}" if filters else ""
    out.info(f"exported {count} push(es) of {len(seen)} AWB(s){matching} from {store_path}")
    if mended:
        out.warn(f"{mended} push(es) held NaN or Infinity, which JSON cannot carry: written as"
                 " null (the raw bytes stay in the store)")
    return 0


_TOKENS = re.compile(r'("(?:[^"\\]|\\.)*")|([ \t\r\n]+)|(-?Infinity|NaN)')


def _token(match: re.Match) -> str:
    if match[1] is not None:
        return match[1]  # a string, whatever it holds, unchanged
    return "" if match[2] is not None else "null"


def strict_line(body: bytes) -> tuple[str, bool]:
    """(``body`` as one line of strict JSON, whether NaN/Infinity had to become null).

    A one-line strict body is returned as it is (less a BOM and the whitespace around it);
    otherwise the whitespace between tokens is dropped and NaN/Infinity become null, strings
    and numbers keeping their exact text.
    """
    text = body.decode("utf-8", "replace").removeprefix("\ufeff").strip(" \t\r\n")
    if "\n" not in text and "\r" not in text:
        try:
            json.loads(text, parse_constant=_refuse)
            return text, False
        except ValueError:
            pass
    line = _TOKENS.sub(_token, text)
    return line, line.count("null") > text.count("null")


def _refuse(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def run_conflicts(out: Any, store_path: str | Path) -> int:
    """The conflicts table as JSON Lines: the number, when, what differs, both bodies."""
    from shipctl.ecom.receive import store

    connection = store.connect(store_path, create=False)
    count = 0
    try:
        for conflict in store.conflicts(connection):
            stored, _ = strict_line(conflict.stored_body)
            received, _ = strict_line(conflict.body)
            head = json.dumps({"status_update_number": conflict.status_update_number,
                               "received_at": conflict.received_at,
                               "differs": conflict.differs.split(", ")},
                              ensure_ascii=False, separators=(",", ":"))
            out.stdout.write(f'{head[:-1]},"stored":{stored},"received":{received}}}\n')
            count += 1
    finally:
        connection.close()
    out.stdout.flush()
    out.info(f"exported {count} conflict(s) from {store_path}")
    return 0


def forward_status(out: Any, store_path: str | Path, *, retry_dead: bool = False) -> int:
    """``ecom forward``: the relay's counts, the dead pushes; ``retry_dead`` re-queues them."""
    from shipctl.ecom.receive import store

    connection = store.connect(store_path, create=False)
    try:
        dead = connection.execute(
            "SELECT f.awb, p.status_update_number, f.attempts, f.last_result, f.done_at"
            " FROM forwards f JOIN pushes p ON p.id = f.push_id WHERE f.state = 'dead'"
            " ORDER BY f.push_id LIMIT 20").fetchall()
        if retry_dead:
            again = store.retry_dead(connection)
        counts = store.forward_counts(connection)
    finally:
        connection.close()
    out.stdout.write(f"pending {counts['pending']} (held behind an earlier push of their AWB:"
                     f" {counts['held']}), forwarded {counts['forwarded']}, dead"
                     f" {counts['dead']}\n")
    if retry_dead:
        out.info(f"{again} dead push(es) pending again: the running ecom listen --forward-to"
                 " on this store sends them within seconds, else the next one when it starts")
    elif dead:
        for awb, number, attempts, result, when in dead:
            out.stdout.write(f"dead: awb {awb} status_update_number {number}, {attempts}"
                             f" attempt(s), last {result} (dead since {when})\n")
        out.info("shipctl ecom forward --retry-dead puts them back in the queue")
    out.stdout.flush()
    return 0


def _rows(connection: Any, awbs: list[str] | None, since: str | None,
          unforwarded: bool) -> Any:
    from shipctl.ecom.receive import store

    if not awbs:
        yield from store.select(connection, since=since, unforwarded=unforwarded)
        return
    # several AWBs: one arrival-ordered stream, so the output is the same whatever their order
    rows = [row for awb in dict.fromkeys(awbs)
            for row in store.select(connection, awb=awb, since=since, unforwarded=unforwarded)]
    yield from sorted(rows, key=lambda row: row.id)
