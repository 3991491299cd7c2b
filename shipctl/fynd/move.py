"""What one `fynd transition` moves: the result line of each shipment, and the question asked
before a move that cancels units."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from shipctl.app import Application


class Move(NamedTuple):
    """What one transition asks of each of its shipments (they all carry the same products)."""

    identifiers: tuple[str, ...]
    to: str
    lines: tuple[tuple[int, int], ...]  # (line_number, quantity); () = the whole shipment
    rest: Any  # exclude_bags_next_state: a state, None or "" (the rest stay), or ABSENT

    @classmethod
    def of(cls, body: dict[str, Any]) -> Move:
        from shipctl.fynd.flags import ABSENT

        transition = body["statuses"][0]
        shipments = transition["shipments"]
        lines = tuple((p["line_number"], p["quantity"]) for p in shipments[0].get("products", ())
                      if "line_number" in p and "quantity" in p)
        return cls(tuple(s["identifier"] for s in shipments), transition["status"], lines,
                   transition.get("exclude_bags_next_state", ABSENT))

    def units(self, word: bool = False) -> str:
        """The units named: "5" (word: "5 units"), or "15 (lines 1:5, 2:10)"."""
        total = sum(quantity for _, quantity in self.lines)
        text = str(total)
        if word:
            text += " unit" if total == 1 else " units"
        if len(self.lines) > 1:
            text += f" (lines {', '.join(f'{ln}:{q}' for ln, q in self.lines)})"
        return text

    @property
    def partial(self) -> bool:
        return bool(self.lines)

    @property
    def rest_to(self) -> str | None:
        """The state the shipment's other units go to, when a partial move names one."""
        return self.rest if self.partial and isinstance(self.rest, str) and self.rest else None

    def line(self, result: Any) -> str:
        """RESULT's line; for a partial move both sides: ``5 → bag_confirmed, the rest →
        bag_not_confirmed`` (or ``the rest stay`` for null and ""). The request names the units
        moved; how many the rest are, only the shipment knows, so they are "the rest"."""
        if not (result.ok and self.partial):
            return result.line()
        from shipctl.fynd.client import MESSAGE_MAX
        from shipctl.fynd.flags import ABSENT
        from shipctl.output import shorten, visible

        sides = f"{self.units()} → {result.states or self.to}"
        if self.rest_to is not None:
            sides += f", the rest → {self.rest_to}"
        elif self.rest is not ABSENT:
            sides += ", the rest stay"
        parts = [result.identifier or "-", "ok", sides]
        if result.message:
            parts.append(shorten(result.message, MESSAGE_MAX))
        return visible("  ".join(parts))

    def question(self) -> str | None:
        """What to ask before sending, when the move cancels units (``states.is_cancellation``:
        bag_not_confirmed and cancelled_*, the states Fynd wants a reason for); else None."""
        from shipctl.fynd.states import is_cancellation

        cancels = is_cancellation(self.to)
        rest_cancels = self.rest_to is not None and is_cancellation(self.rest_to)
        if not (cancels or rest_cancels):
            return None
        ids = self.identifiers
        shown = ", ".join(ids[:3]) + (", …" if len(ids) > 3 else "")
        of = f"shipment {ids[0]}" if len(ids) == 1 else f"each of {len(ids)} shipments ({shown})"
        if cancels and self.partial and not rest_cancels:
            return f"Cancel {self.units(word=True)} of {of}? [y/N] "
        if cancels:
            return f"Cancel every unit of {of}? [y/N] "
        return (f"Cancel every unit of {of} except the {self.units(word=True)} moving to "
                f"{self.to}? [y/N] ")


def confirmed(app: Application, body: dict[str, Any]) -> bool:
    """Whether to send: yes without a question unless the move cancels units and standard input
    is a terminal (a script, cron or a pipe is never asked); then only "y" or "yes"."""
    import sys

    question = Move.of(body).question()
    if question is None or not app.out.stdin_is_tty:
        return True
    app.out.stderr.write(app.out.scrub(question))
    app.out.stderr.flush()
    answer = sys.stdin.readline()  # "" at end of input (Ctrl-D): no
    if not answer.endswith("\n"):
        app.out.stderr.write("\n")
    return answer.strip().casefold() in ("y", "yes")
