"""The one bulk engine (docs/conventions.md, Bulk engine): EWE modify, Fynd apply, Ecom replay.

The caller turns its input into ``Job``s (validating each one: ``Job.problems``, a
``FieldError`` each — field, line, message — shown as ``errors`` records; ordering keys:
``Job.keys``), filters them with ``in_shard`` when ``--shard`` is given, and hands them to
``run`` with a ``send`` function that performs one request — retries included — and returns an
``Outcome``. ``--strict`` is the caller's too: it needs a validation pass over the whole input
before anything is sent, so the caller counts the invalid jobs first and passes
``run(..., hold=strict_hold_reason(...))``. ``--rate``: the caller makes the run's ``Pacer``
(``make_pacer``), passes it in ``BulkOptions.pacer`` and lets its send() take a slot for each
retry, so every request of the run is paced, not only first attempts.

Where things go:

- stderr: on a terminal, a progress bar with count, rate and ETA (failed, invalid and blocked
  items are printed above it); otherwise one line per finished item:
  ``succeeded  TEST0001  bulk.jsonl:1 item 1  Modify success!`` (status, label, where, message;
  label and where shortened to ``LINE_FIELD_MAX`` characters so one item stays one line).
- stdout, text mode: only the final summary line
  (``sent 10, succeeded 9, failed 1, invalid 0, skipped 0, blocked 0, duplicate 0 in 2.3 s``).
  json mode: exactly one JSON document ``{"results": [...], "summary": {...}}``, streamed one
  record at a time so memory stays flat however long the input.
- ``--report FILE``: one record per item as it finishes (``shipctl.report``).
- ``--journal FILE``: each outcome, durably, before it is reported (``shipctl.journal``).
  Reports, journal and json records keep label, where and key whole up to ``RECORD_FIELD_MAX``
  characters; ``key`` is the job's one key, or its keys joined with a space, or null.

Statuses: ``succeeded``, ``failed``, ``invalid`` (never sent), ``skipped`` (the journal says it
already succeeded), ``blocked`` (an earlier item sharing an ordering key failed or was blocked;
an *invalid* item blocks its keys only with ``BulkOptions.invalid_blocks_keys``), ``duplicate``
(same job id earlier in this input), ``not_sent`` (after ``--fail-fast`` or a ``fatal``
outcome, or held back by ``--strict``) and ``interrupted`` (not started, or abandoned in
flight, because of Ctrl-C/SIGTERM; not journaled, so a re-run sends it). After Ctrl-C the rest
of the input is not read, so ``total`` counts the items read.

The package, each module importing only those below it:

- ``vocabulary``: ``Job``, ``Outcome``, the statuses, ``Summary`` (also used by the journal).
- ``shards``, ``pacing``: ``--shard K/N`` and ``--rate R``.
- ``scheduler``: which job may start when — read-ahead window, per-key queues, failed keys,
  duplicates, stop and hold. Plain code, no threads.
- ``recorder``: journal, report, JSON stream, progress bar or item lines, summary line.
- ``engine``: ``run``: the threads, the lock, signals and the pacer, wiring the two above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipctl.batch.vocabulary import (
    BLOCKED,
    DUPLICATE,
    FAILED,
    INTERRUPTED,
    INVALID,
    LINE_FIELD_MAX,
    NOT_SENT,
    RECORD_FIELD_MAX,
    SKIPPED,
    STATUSES,
    SUCCEEDED,
    UNKNOWN,
    FieldError,
    Job,
    Outcome,
    Part,
    Summary,
    error_records,
    key_text,
    problems_text,
)
from shipctl.output import shorten

if TYPE_CHECKING:
    from shipctl.batch.engine import BulkOptions, run
    from shipctl.batch.pacing import Pacer, check_rate, make_pacer
    from shipctl.batch.recorder import item_line
    from shipctl.batch.scheduler import strict_hold_reason
    from shipctl.batch.shards import in_shard, parse_shard, shard_of

# The vocabulary is imported with the package; the machinery that runs a bulk run (threads,
# recorder, journal) only when a name of it is asked for: a single request, which speaks the
# same vocabulary (a Job, an Outcome), starts without it.
_LAZY = {
    "BulkOptions": "engine", "run": "engine", "Pacer": "pacing", "check_rate": "pacing",
    "make_pacer": "pacing", "item_line": "recorder", "strict_hold_reason": "scheduler",
    "in_shard": "shards", "parse_shard": "shards", "shard_of": "shards",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "BLOCKED", "DUPLICATE", "FAILED", "INTERRUPTED", "INVALID", "LINE_FIELD_MAX", "NOT_SENT",
    "RECORD_FIELD_MAX", "SKIPPED", "STATUSES", "SUCCEEDED", "UNKNOWN", "BulkOptions",
    "FieldError", "Job", "Outcome", "Part", "Pacer", "Summary", "check_rate", "error_records",
    "in_shard", "item_line", "key_text", "make_pacer", "parse_shard", "problems_text", "run",
    "shard_of", "shorten", "strict_hold_reason",
]
