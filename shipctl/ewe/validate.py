"""`shipctl ewe validate`: every modifyShipment rule, offline, with where each problem is.

Text output streams one verdict per item (so a large file shows progress) and ends with a
summary; ``-o json`` prints one document at the end. Exit 0 all valid, 1 any invalid; input that
cannot be read raises InputError, which cli.run turns into exit 2.
"""

from __future__ import annotations

from typing import Any

PASTE_PROMPT = "Paste the payload, then press Ctrl-D (Ctrl-Z Enter on Windows)"


def paste_prompt(paths: list[str], *, stdin_is_tty: bool, stderr_is_tty: bool) -> str | None:
    """What to say before reading a payload typed or pasted on the terminal (`validate -`),
    so the command does not seem to hang; None when stdin is a pipe or a file."""
    if "-" in paths and stdin_is_tty and stderr_is_tty:
        return PASTE_PROMPT
    return None


def repaired_verdict(repairs: int) -> str:
    """The verdict of a valid item whose file the lenient reader had to repair: so that
    "VALID" beside "warning: parsed leniently" reads as what it is."""
    return f"VALID after repairing {repairs} formatting problem{'' if repairs == 1 else 's'}"


def run(app: Any, paths: list[str], *, recursive: bool, print_fixed: bool = False) -> int:
    from shipctl.ewe import MSG_TYPE
    from shipctl.ewe.models import check, unknown_column
    from shipctl.ewe.postcodes import configured_index, note_unchecked
    from shipctl.inputs import read_items
    from shipctl.output import LINE_WIDTH, shorten

    out = app.out
    postcodes = configured_index(app)
    results = out.results()
    valid = invalid = 0
    # "parsed leniently" warnings per file: the verdict says how much was repaired
    repairs: dict[str, int] = {}

    def warn(message: str) -> None:
        out.warn(message)
        file, lenient, _ = message.rpartition(": parsed leniently: ")
        if lenient:
            repairs[file] = repairs.get(file, 0) + 1

    # --print-fixed: stdout is the clean JSON only; verdicts go to stderr
    say = out.info if print_fixed else out.print
    fixed = _FixedPrinter(out) if print_fixed else None
    prompt = paste_prompt(paths, stdin_is_tty=out.stdin_is_tty, stderr_is_tty=out.stderr_is_tty)
    if prompt:
        out.info(prompt)
    items = read_items(
        paths, recursive=recursive, allow_csv=True, warn=warn, check_column=unknown_column
    )
    for item in items:
        if postcodes is None and valid + invalid == 0:
            note_unchecked(app)  # once per run, before the first verdict
        if fixed is not None:
            fixed.add(item.data, item)
        checked = check(item.data, postcodes=postcodes)
        carried = checked.envelope.get("msgType", MSG_TYPE)
        warnings: list[str] = []
        if carried != MSG_TYPE:
            shown = shorten(repr(carried), LINE_WIDTH)
            out.warn(f"{item.where(('msgType',))}: {shown} is replaced by {MSG_TYPE!r} when sent")
            warnings.append(f"msgType {shown} is replaced by {MSG_TYPE!r} when sent")
        for warning in checked.warnings:  # sent all the same: EWE decides
            out.warn(f"{item.where(warning.path)}: {warning.message}")
            warnings.append(str(warning))
        if checked.valid:
            valid += 1
        else:
            invalid += 1
        reference = shorten(checked.label, LINE_WIDTH)
        if out.json_mode:
            results.add(_record(item, checked, warnings))
            continue
        verdict = "VALID  " if checked.valid else "INVALID"
        if checked.valid and repairs.get(item.location.file):
            verdict = repaired_verdict(repairs[item.location.file])
        say(f"{verdict} {item.where()}  {reference}")
        for problem in checked.problems:
            say(f"  {item.where(problem.path)}: {problem.message}")

    total = valid + invalid
    code = 1 if invalid else 0
    if out.json_mode:
        # "total", "invalid" and "exit_code" as in modify's summary; "items" as before
        summary = {"total": total, "items": total, "valid": valid, "invalid": invalid,
                   "exit_code": code}
        results.finish(summary)
    else:
        say(f"{total} item{'' if total == 1 else 's'}: {valid} valid, {invalid} invalid")
    if fixed is not None:
        fixed.finish()
    if not total:
        out.warn("no items found in the input")
    return code


def _record(item: Any, checked: Any, warnings: list[str]) -> dict[str, Any]:
    """The record every command shares (README "Results as JSON": where, label, status,
    errors, warnings), with validate's own keys as they always were."""
    return {
        "where": item.where(),
        "label": checked.label,
        "status": "valid" if checked.valid else "invalid",
        "file": item.location.file,
        "line": item.location.line,
        "index": item.location.index,
        "reference_no": checked.reference_no and checked.label,
        "valid": checked.valid,
        "errors": [
            {"field": problem.field, "line": item.line_of(problem.path),
             "message": problem.message}
            for problem in checked.problems
        ],
        "warnings": warnings,
    }


class _FixedPrinter:
    """``--print-fixed``: each item as clean JSON on stdout — one object as it is, several as
    one JSON array (streamed) — so what is printed can be sent back and read by anything."""

    def __init__(self, out: Any) -> None:
        self.out = out
        self.held: Any = None
        self.count = 0
        self.digest_dropped = False

    def add(self, data: Any, item: Any = None) -> None:
        data = self._json_numbers(data, (), item)
        if isinstance(data, dict) and "digest" in data:
            # a secret (SPEC §3), and shipctl computes it when sending: not printed
            data = {key: value for key, value in data.items() if key != "digest"}
            if not self.digest_dropped:
                self.digest_dropped = True
                self.out.warn("--print-fixed leaves out 'digest' (a secret; computed when sent)")
        self.count += 1
        if self.count == 1:
            self.held = data
            return
        if self.count == 2:
            self._write("[\n" + self._json(self.held, indent=1))
            self.held = None
        self._write(",\n" + self._json(data, indent=1))

    def finish(self) -> None:
        if self.count == 1:
            self._write(self._json(self.held) + "\n")
        elif self.count > 1:
            self._write("\n]\n")

    def _json_numbers(self, node: Any, path: tuple[Any, ...], item: Any) -> Any:
        """NaN and Infinity are not JSON that anything but Python reads: each is printed as
        its text ("NaN"), with a warning; validating what was printed still refuses it."""
        import math

        if isinstance(node, float) and not math.isfinite(node):
            text = "NaN" if math.isnan(node) else ("Infinity" if node > 0 else "-Infinity")
            where = item.where(path) if item is not None else ".".join(map(str, path))
            self.out.warn(f"{where}: {text} is not a number JSON can hold: printed as the "
                          f'text "{text}"')
            return text
        if isinstance(node, dict):
            return {k: self._json_numbers(v, (*path, k), item) for k, v in node.items()}
        if isinstance(node, list):
            return [self._json_numbers(v, (*path, n), item) for n, v in enumerate(node)]
        return node

    @staticmethod
    def _json(data: Any, indent: int = 0) -> str:
        from shipctl import plainjson

        # decimals with the digits they were written with: 0.0000001 stays 0.0000001
        text = plainjson.dumps(data, indent=2, ensure_ascii=False)
        return "\n".join("  " * indent + line for line in text.splitlines())

    def _write(self, text: str) -> None:
        self.out.stdout.write(self.out.scrub(text))
