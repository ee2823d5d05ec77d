"""``reconcile``: what a device issued and called from its own block while the station
did not answer (docs/station.md, "When the station is away"), taken once by number and
day. A number the station does not hold is inserted as the device reports it; one it
holds waiting that the device reports called (a window called the entrance's ticket
from the list it had) is marked called; anything else is ``already``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from device.errors import ParseError
from device.fields import int_field, number_field, text_field
from station.ops import Outcome, Refused, View
from station.queue import Code

MAX_ITEMS = 2000  # a day of one device's block, with room
_STATUSES = ("waiting", "called", "done", "no_show")


def parse_items(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ParseError("field 'tickets' must be a list of tickets")
    if len(raw) > MAX_ITEMS:
        raise ParseError(f"field 'tickets' has more than {MAX_ITEMS} tickets; send them in "
                         "several requests")
    items = []
    for i, t in enumerate(raw):
        where = f"tickets[{i}]"
        if not isinstance(t, dict):
            raise ParseError(f"{where}: must be an object")
        status = text_field(t, "status", required=False, limit=16, where=where) or "waiting"
        if status not in _STATUSES:
            raise ParseError(f"{where}: field 'status' must be one of {', '.join(_STATUSES)}")
        window = int_field(t, "window", lo=0, hi=999, required=False, where=where)
        called = number_field(t, "called_ts", lo=0, hi=1e11, required=False, where=where)
        if status != "waiting" and not (window and called):
            raise ParseError(f"{where}: a {status} ticket needs 'window' and 'called_ts'")
        items.append({
            "number": text_field(t, "number", limit=16, nonempty=True, where=where),
            "day": text_field(t, "day", limit=10, nonempty=True, where=where),
            "service": text_field(t, "service", limit=64, nonempty=True, where=where),
            "priority": int_field(t, "priority", lo=0, hi=2, required=False, where=where),
            "appointment": text_field(t, "appointment", required=False, limit=32,
                                      where=where),
            "issued_ts": number_field(t, "issued_ts", lo=0, hi=1e11, where=where),
            "status": status, "window": window, "called_ts": called or None,
            "done_ts": number_field(t, "done_ts", lo=0, hi=1e11, required=False,
                                    where=where) or None})
    return items


def reconcile(v: View, items: Sequence[Mapping[str, Any]]) -> Outcome:
    prefixes = [f.prefix for f in v.cfg.fallback]
    out = Outcome({"taken": [], "already": []})
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(items):
        number, day = str(t["number"]), str(t["day"])
        if (day, number) in seen:
            out.response["already"].append(number)
            continue
        seen.add((day, number))
        row = v.store.ticket(day, number)
        if row is None:
            prefix = next((p for p in prefixes if number.startswith(p)
                           and number[len(p):].isdigit()), None)
            if prefix is None:
                raise Refused(Code.TICKET_UNKNOWN, f"tickets[{i}]: field 'number': {number} "
                              "is from no device's block (station.fallback_prefix) and the "
                              f"station did not issue it on {day}")
            if t["service"] not in v.cfg.services:
                raise Refused(Code.SERVICE_UNKNOWN, f"tickets[{i}]: field 'service': "
                              f"{t['service']!r} is served at no window of this station")
            out.writers.append(v.store.insert_ticket({**t, "issued_by": v.device}))
            out.writers.append(v.store.count_number(day, prefix, int(number[len(prefix):])))
            out.response["taken"].append(number)
        elif row["status"] == "waiting" and t["status"] != "waiting":
            out.writers.append(v.store.update_ticket(
                int(row["id"]), status=t["status"], window=int(t["window"]),
                called_ts=t["called_ts"], done_ts=t["done_ts"]))
            out.response["taken"].append(number)
        else:
            out.response["already"].append(number)
    return out
