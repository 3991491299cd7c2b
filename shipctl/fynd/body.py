"""`fynd transition`'s flags → its one checked body: each flag parsed (a malformed one is a
usage error naming flag and form), the body built (``shipctl.fynd.flags.build``) and judged as
any body from a file is (``shipctl.fynd.models.check``), each problem named by what the user
typed: the flag, or the --data-file line and field."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from shipctl.errors import ShipctlError, UsageError

if TYPE_CHECKING:
    from shipctl.app import Application
    from shipctl.inputs import Item

# Where a problem with the built body came from, for people: the flag, not the JSON path.
_FLAG_OF = {"status": "--to", "exclude_bags_next_state": "--exclude-next-state"}


class DataFile(NamedTuple):
    """What --data-file read: the data_updates object, and where it came from (so that a
    problem inside it is named by file, line and field, as a body from a file is)."""

    data: dict[str, Any]
    item: Item
    prefix: tuple[str, ...]  # ("data_updates",) when the file wraps the object in that key


def _parsed(flag: str, values: list[str], parse: Any) -> list[Any]:
    """Each value through ``parse``; a malformed one is a usage error naming flag and form."""
    result = []
    for value in values:
        try:
            result.append(parse(value))
        except ValueError as error:
            raise UsageError(f"{flag} {value}: {error}") from None
    return result


def _parts(flags: Any) -> dict[str, Any]:
    """``build``'s keywords from ``flags``, each value parsed as its ``flags.OPTIONS`` entry
    says (an --exclude-next-state not given is ABSENT: the key is not sent)."""
    from shipctl.fynd import flags as declared

    parts: dict[str, Any] = {}
    for option in declared.OPTIONS:
        if not option.body or option.name == "data_file":
            continue
        value = getattr(flags, option.name)
        if option.parse is None:
            parts[option.name] = value
        elif option.many:
            parts[option.name] = _parsed(option.flag, value, option.parse)
        elif value is None:
            parts[option.name] = declared.ABSENT
        else:
            parts[option.name] = option.parse(value)
    return parts


def build_body(app: Application, flags: Any, data_file: DataFile | None = None
               ) -> dict[str, Any]:
    """The request body of ``flags``; UsageError (exit 2) for a malformed flag value."""
    from shipctl.fynd import flags as parse

    for identifier in flags.shipment_ids:
        if not identifier.strip():
            raise UsageError("SHIPMENT_ID: must not be empty")
    parts = _parts(flags)
    refused = parse.refusals(lines=flags.lines, invoice_id=flags.invoice_id, awb=flags.awb,
                             data=flags.data)
    for problem in refused[:-1]:
        app.out.info(f"error: {problem}")
    if refused:
        raise UsageError(refused[-1], hint="nothing was sent")
    if data_file is None and flags.data_file:
        data_file = read_data_file(app, flags.data_file)
    try:
        return parse.build(flags.shipment_ids, data_file=data_file.data if data_file else None,
                           **parts)
    except ValueError as error:  # --data on a --data-file value that is not an object…
        flag = "--data-file" if flags.data_file and not flags.data else "--data"
        raise UsageError(f"{flag}: {error}") from None


def read_data_file(app: Application, path: Path) -> DataFile:
    """--data-file: one data_updates object (YAML or JSON, read as every input is), or an
    object holding one under ``data_updates``."""
    from shipctl import inputs

    try:
        items = list(inputs.read_items([str(path)], warn=app.out.warn))
    except ShipctlError as error:  # unreadable: say which flag named the file
        error.message = f"--data-file {error.message}"
        raise
    if len(items) != 1:
        raise UsageError(f"--data-file {path}: expected one data_updates object, found "
                         f"{len(items)} items")
    item = items[0]
    if set(item.data) == {"data_updates"} and isinstance(item.data["data_updates"], dict):
        return DataFile(item.data["data_updates"], item, ("data_updates",))
    return DataFile(item.data, item, ())


def checked_body(app: Application, flags: Any) -> dict[str, Any]:
    """The body of ``flags`` after the local checks of docs/fynd.md; problems are usage errors
    (exit 2), warnings go to stderr. Each is named by the flag (or --data-file line) it came
    from, once: every shipment of the body carries the same parts, so it would otherwise
    repeat per shipment."""
    from shipctl.fynd import models

    data_file = read_data_file(app, flags.data_file) if flags.data_file else None
    body = build_body(app, flags, data_file)
    checked = models.check(body, force=flags.force)
    for warning in _once(_where(w, flags, data_file) for w in checked.warnings):
        app.out.warn(warning)
    if checked.problems or checked.request is None:
        problems = _once(_where(p, flags, data_file) for p in checked.problems)
        for problem in problems[:-1]:
            app.out.info(f"error: {problem}")
        raise UsageError(problems[-1] if problems else "the request is invalid",
                         hint="nothing was sent")
    return checked.request


def _once(texts: Any) -> list[str]:
    return list(dict.fromkeys(texts))


def _where(problem: Any, flags: Any, data_file: DataFile | None) -> str:
    """PROBLEM named by what the user typed: the flag, or the --data-file line and field;
    else by its path in the body."""
    path = problem.path
    if len(path) == 3 and path[0] == "statuses" and path[2] in _FLAG_OF:
        return f"{_FLAG_OF[path[2]]}: {problem.message}"
    if len(path) > 6 and path[:2] == ("statuses", 0) and path[4] == "reasons":
        given = flags.reasons if path[5] == "products" else flags.entity_reasons
        flag = "--reason" if path[5] == "products" else "--entity-reason"
        if isinstance(path[6], int) and path[6] < len(given):
            return f"{flag} {given[path[6]]}: {problem.message}"
    if data_file is not None and len(path) > 5 and path[4] == "data_updates":
        inside = (*data_file.prefix, *path[5:])
        if _holds(data_file.item.data, inside[:-1]):  # the object at fault is the file's
            return f"--data-file {data_file.item.where(inside)}: {problem.message}"
    return str(problem)


def _holds(data: Any, path: tuple[Any, ...]) -> bool:
    """Whether DATA has a value at PATH."""
    for part in path:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True
