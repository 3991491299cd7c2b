"""`shipctl ewe validate`: every modifyShipment rule, offline, with where each problem is.

Text output streams one verdict per item (so a large file shows progress) and ends with a
summary; ``-o json`` prints one document at the end. Exit 0 all valid, 1 any invalid; input that
cannot be read raises InputError, which cli.run turns into exit 2.
"""

from __future__ import annotations

from typing import Any


def run(app: Any, paths: list[str], *, recursive: bool) -> int:
    from shipctl.ewe import MSG_TYPE
    from shipctl.ewe.models import check, unknown_column
    from shipctl.ewe.postcodes import configured_index
    from shipctl.inputs import read_items
    from shipctl.output import LINE_WIDTH, shorten

    out = app.out
    postcodes = configured_index(app)
    results: list[dict[str, Any]] = []
    valid = invalid = 0
    items = read_items(
        paths, recursive=recursive, allow_csv=True, warn=out.warn, check_column=unknown_column
    )
    for item in items:
        checked = check(item.data, postcodes=postcodes)
        carried = checked.envelope.get("msgType", MSG_TYPE)
        if carried != MSG_TYPE:
            shown = shorten(repr(carried), LINE_WIDTH)
            out.warn(f"{item.where(('msgType',))}: {shown} is replaced by {MSG_TYPE!r} when sent")
        if checked.valid:
            valid += 1
        else:
            invalid += 1
        reference = shorten(str(checked.reference_no or "-"), LINE_WIDTH)
        if out.json_mode:
            results.append(
                {
                    "file": item.location.file,
                    "line": item.location.line,
                    "index": item.location.index,
                    "reference_no": checked.reference_no,
                    "valid": checked.valid,
                    "errors": [
                        {
                            "field": problem.field,
                            "line": item.line_of(problem.path),
                            "message": problem.message,
                        }
                        for problem in checked.problems
                    ],
                }
            )
            continue
        verdict = "VALID  " if checked.valid else "INVALID"
        out.print(f"{verdict} {item.where()}  {reference}")
        for problem in checked.problems:
            out.print(f"  {item.where(problem.path)}: {problem.message}")

    total = valid + invalid
    if out.json_mode:
        out.write_json(
            {"summary": {"items": total, "valid": valid, "invalid": invalid}, "results": results}
        )
    else:
        out.print(f"{total} item{'' if total == 1 else 's'}: {valid} valid, {invalid} invalid")
    if not total:
        out.warn("no items found in the input")
    return 1 if invalid else 0
