"""The bulk engine's shared words: ``Job``, ``Outcome``, the statuses and ``Summary``.

The bottom of the package: the scheduler, the recorder, the engine (and ``shipctl.journal``)
import these and nothing here imports them back, so there is no import cycle.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shipctl.errors import ExitCode
from shipctl.output import LINE_WIDTH

SUCCEEDED = "succeeded"
FAILED = "failed"
INVALID = "invalid"
SKIPPED = "skipped"
BLOCKED = "blocked"
DUPLICATE = "duplicate"
NOT_SENT = "not_sent"
INTERRUPTED = "interrupted"
# Sent, and no answer says whether it was applied (a read timeout, a gateway's 502/504…) for a
# call that is not idempotent (a Fynd transition): neither sent again blindly nor called
# failed. The journal keeps it; a re-run verifies it before sending anything.
UNKNOWN = "unknown"
STATUSES = (SUCCEEDED, FAILED, INVALID, SKIPPED, BLOCKED, DUPLICATE, NOT_SENT, INTERRUPTED,
            UNKNOWN)
# Any of these makes the run exit 1 (docs/conventions.md, Exit codes: invalid,
# rejected or not delivered).
BAD = (FAILED, INVALID, BLOCKED, NOT_SENT, UNKNOWN)
# Shown above the progress bar on a terminal, where successes are only counted.
NOTEWORTHY = (FAILED, INVALID, BLOCKED, UNKNOWN)
# What --quiet still prints, one line each: the items that went wrong or were not sent.
QUIET_SHOWN = (FAILED, INVALID, BLOCKED, NOT_SENT, INTERRUPTED, UNKNOWN)

# A label is whatever the input's referenceNo (or AWB...) holds: a hostile or broken input can
# make it megabytes long. The per-item line shows this much of label, where and a key, so one
# item stays one readable line; reports, journal and JSON keep up to RECORD_FIELD_MAX.
LINE_FIELD_MAX = LINE_WIDTH
RECORD_FIELD_MAX = 1000


@dataclass(frozen=True, slots=True)
class FieldError:
    """One reason an item is invalid: which field, on which source line, what is wrong.

    ``-o json``, JSON Lines reports and ``--dry-run -o json`` show it as
    ``{"field", "line", "message"}``, the names ``ewe validate -o json`` uses; text output as
    ``str(error)``: ``bulk.yaml:14 item 3 to.phone: must be …`` (``where`` then the message).
    """

    message: str
    field: str = ""  # dotted path, "to.phone"; "" for the item as a whole
    line: int | None = None  # the source line of the field (else of the item), when known
    where: str = ""  # file:line, item number and field, for people

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "line": self.line, "message": self.message}


def error_records(problems: Iterable[FieldError | str]) -> list[dict[str, Any]]:
    """A job's problems as ``errors`` records; a plain string is a message about no field."""
    return [p.as_dict() if isinstance(p, FieldError) else
            {"field": "", "line": None, "message": str(p)} for p in problems]


def problems_text(problems: Iterable[FieldError | str]) -> str:
    """A job's problems as one ``message``: each as text output shows it, joined with "; "."""
    return "; ".join(str(p) for p in problems)


@dataclass(slots=True, init=False)
class Job:
    """One item to send.

    ``keys`` are its ordering keys (the EWE referenceNo; the Fynd shipment identifiers of one
    body; the Ecom awb): the job starts only after every earlier job sharing any of them has
    finished, and is ``blocked`` if one of those failed. Empty = independent of every other job.
    Reports, the journal and ``-o json`` show them in one ``key`` field: the key itself for one
    key, the keys joined with a space for several, null for none.
    """

    id: str  # stable identity (e.g. a hash of the request body): journal and duplicates
    keys: tuple[str, ...]
    label: str  # what a person recognises, e.g. the referenceNo
    where: str  # source location, e.g. "bulk.jsonl:3 item 3"
    payload: Any  # what send() needs; never journaled or reported
    # non-empty → invalid, never sent; a FieldError each (a plain str is a message about no
    # particular field)
    problems: list[FieldError | str]
    # what the provider warned about this item (also said on stderr): the records' `warnings`
    warnings: list[str]
    # its status in the journal from an earlier run, when that matters to sending it again
    # (UNKNOWN: verify before sending); set by the scheduler as the job is admitted
    previous: str | None
    # Its parts that are journaled one by one (the shipment moves of one Fynd body), part id
    # → what a person recognises (the shipment identifier): a re-run sends only the parts
    # that have not succeeded (``BulkProvider.only``). Empty: the job is one whole.
    parts: dict[str, str]
    # each part's status in the journal from earlier runs (set with ``previous``)
    previous_parts: dict[str, str | None]

    def __init__(self, id: str, keys: Iterable[str] = (), label: str = "", where: str = "",
                 payload: Any = None, problems: list[FieldError | str] | None = None,
                 warnings: list[str] | None = None, parts: dict[str, str] | None = None) -> None:
        if type(keys) is not tuple:
            if isinstance(keys, str):  # a str is iterable: "AWB1" would become 4 keys
                raise TypeError("Job.keys: a tuple of keys, e.g. (reference,), not a str")
            keys = tuple(keys)
        if len(keys) > 1 and len(set(keys)) != len(keys):
            # A key listed twice would queue the job behind itself and never start it.
            keys = tuple(dict.fromkeys(keys))
        self.id = id
        self.keys = keys
        self.label = label
        self.where = where
        self.payload = payload
        self.problems = [] if problems is None else problems
        self.warnings = [] if warnings is None else warnings
        self.previous = None
        self.parts = parts or {}
        self.previous_parts = {}


def key_text(keys: tuple[str, ...]) -> str | None:
    """The ``key`` field of reports, journal and JSON: null, the key, or the keys joined."""
    if not keys:
        return None
    return keys[0] if len(keys) == 1 else " ".join(keys)


@dataclass(slots=True)
class Outcome:
    ok: bool
    message: str
    code: str | int | None = None
    attempts: int = 1
    detail: dict | None = None  # extra fields for -o json / JSON Lines reports; no secrets
    # A failure every other item would meet too (e.g. EWE 104 "Incorrect signature"): stop
    # sending, as --fail-fast would, rather than be refused thousands of times.
    fatal: bool = False
    # The API refused the credentials: what to check ("ewe.password"). The runner then says
    # once which profile's credentials were refused.
    check: str | None = None
    # Not ok, and not known to have failed either: sent, and it may have been applied
    # (recorded as UNKNOWN, which blocks the job's keys as a failure does).
    unknown: bool = False
    # The job's parts (``Job.parts``) this outcome settles: part id → ``Part`` (journaled in
    # the same transaction as the job's own row).
    parts: dict[str, Part] | None = None

    @property
    def status(self) -> str:
        """The status it is recorded as, by a bulk run or a single request: SUCCEEDED, UNKNOWN
        or FAILED."""
        return SUCCEEDED if self.ok else UNKNOWN if self.unknown else FAILED


@dataclass(slots=True)
class Part:
    """How one part of a job ended (a shipment of a Fynd body)."""

    status: str  # SUCCEEDED, FAILED or UNKNOWN
    key: str  # what a person recognises: the shipment identifier
    message: str


@dataclass
class Verdict:
    """What reading the target back says about a job that was sent and may have been applied
    (``BulkProvider.verify``)."""

    # True: it took effect (a success); False: it did not, it is safe to send (``rest``);
    # None: the target cannot tell, or could not be read (the outcome stays unknown)
    applied: bool | None
    reason: str  # for people: what was read, e.g. "shipment 800001 is in bag_confirmed"
    # applied False: the job to send instead, holding only what did not take effect (a Fynd
    # body without its shipments that did move); None: the job as it was
    rest: Job | None = None
    # what it found of each of the job's parts (``Job.parts``), journaled with the job
    parts: dict[str, Any] | None = None


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    sent: int = 0  # jobs whose send() was called
    total: int = 0  # jobs read from the input
    elapsed: float = 0.0
    interrupted: bool = False
    signal: str | None = None  # "SIGINT" / "SIGTERM" when interrupted
    # The run stopped on an error (input unreadable mid-way: 2): the process exits with that
    # code, so the summary and the journal's runs row say the same.
    error_exit: int | None = None

    def exit_code(self) -> int:
        if self.error_exit is not None:
            return self.error_exit
        if self.interrupted:
            return int(ExitCode.INTERRUPTED)
        if any(self.counts[s] for s in BAD):
            return int(ExitCode.FAILED)
        return int(ExitCode.OK)

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "sent": self.sent,
            **self.counts,
            "elapsed_seconds": round(self.elapsed, 3),
            "signal": self.signal,
            "exit_code": self.exit_code(),
        }

    def line(self) -> str:
        c = self.counts
        parts = [f"sent {self.sent}"] + [
            f"{s} {c[s]}" for s in (SUCCEEDED, FAILED, INVALID, SKIPPED, BLOCKED, DUPLICATE)
        ]
        if c[UNKNOWN]:
            parts.append(f"unknown {c[UNKNOWN]}")
        if c[NOT_SENT]:
            parts.append(f"not sent {c[NOT_SENT]}")
        if self.interrupted or c[INTERRUPTED]:
            parts.append(f"interrupted {c[INTERRUPTED]}")
        return f"{', '.join(parts)} in {_duration(self.elapsed)}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {secs} s" if hours else f"{minutes} min {secs} s"
