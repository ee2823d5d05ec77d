"""``reconcile``: what a device issued and called from its own block while the station
did not answer (docs/station.md, "When the station is away"), taken once by number and
day.

Each ticket is the device's row as drivers/station/ sends it: ``{number, day, service,
priority, appointment, issued_ts, called_ts (null: not called), window, gone ("",
"no_show" or "window:N")}``; an explicit ``status`` (waiting, called, done, no_show) may
replace ``called_ts``/``gone``. A number the station does not hold is inserted: waiting
(for window N alone after ``window:N``), or, when a device called it, **done** at that
window: the device served it while the station was away and ends its case itself, so
the station never holds a window busy with a ticket it did not call. One the station
holds waiting that a device reports called is marked done the same way; anything else
is ``already``. A ticket that ``replaces`` a request's rid (the device gave up on its
answer) voids the ticket the station issued for that request, if it did and the ticket
still waits (``voided``). A ticket the station cannot take (not from any device's block, or
still waiting for a service no window serves) is listed in ``refused`` with the reason,
the others are taken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from device.errors import ParseError
from device.fields import int_field, number_field, text_field
from station.ops import Outcome, View

MAX_ITEMS = 2000  # a day of one device's block, with room
_STATUSES = ("waiting", "called", "done", "no_show")


def parse_items(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise ParseError("field 'tickets' must be a list of tickets")
    if len(raw) > MAX_ITEMS:
        raise ParseError(f"field 'tickets' has more than {MAX_ITEMS} tickets; send them in "
                         "several requests")
    return [_item(t, f"tickets[{i}]") for i, t in enumerate(raw)]


def _item(t: Any, where: str) -> dict[str, Any]:
    if not isinstance(t, dict):
        raise ParseError(f"{where}: must be an object")
    window = int_field(t, "window", lo=0, hi=999, required=False, where=where)
    called = number_field(t, "called_ts", lo=0, hi=1e11, required=False, where=where) or None
    gone = text_field(t, "gone", required=False, limit=16, where=where)
    to_window = 0
    if gone.startswith("window:") and gone[7:].isdigit() and 0 < int(gone[7:]) < 1000:
        to_window = int(gone[7:])
    elif gone not in ("", "no_show"):
        raise ParseError(f"{where}: field 'gone' must be \"\", \"no_show\" or \"window:N\"")
    status = text_field(t, "status", required=False, limit=16, where=where)
    if not status:
        status = "no_show" if gone == "no_show" else "called" if called else "waiting"
    if status not in _STATUSES:
        raise ParseError(f"{where}: field 'status' must be one of {', '.join(_STATUSES)}")
    if status in ("called", "done") and not (window and called):
        raise ParseError(f"{where}: a called ticket needs 'window' and 'called_ts'")
    return {
        "number": text_field(t, "number", limit=16, nonempty=True, where=where),
        "day": text_field(t, "day", limit=10, nonempty=True, where=where),
        "service": text_field(t, "service", limit=64, nonempty=True, where=where),
        "priority": int_field(t, "priority", lo=0, hi=2, required=False, where=where),
        "appointment": text_field(t, "appointment", required=False, limit=32, where=where),
        "issued_ts": number_field(t, "issued_ts", lo=0, hi=1e11, where=where),
        # Called at a device: served there (see the module docstring).
        "status": "done" if status == "called" else status,
        "window": window, "called_ts": called, "to_window": to_window,
        "done_ts": number_field(t, "done_ts", lo=0, hi=1e11, required=False,
                                where=where) or called,
        "replaces": text_field(t, "replaces", required=False, limit=64, where=where)}


def reconcile(v: View, items: Sequence[Mapping[str, Any]]) -> Outcome:
    prefixes = [f.prefix for f in v.cfg.fallback]
    taken: list[str] = []
    already: list[str] = []
    refused: list[dict[str, str]] = []
    voided: list[str] = []
    out = Outcome({"taken": taken, "already": already, "refused": refused,
                   "voided": voided})
    seen: set[tuple[str, str]] = set()
    for i, t in enumerate(items):
        number, day = str(t["number"]), str(t["day"])
        if (day, number) in seen:
            already.append(number)
            continue
        seen.add((day, number))
        if t["replaces"]:
            _void_replaced(v, str(t["replaces"]), voided, out)
        row = v.store.ticket(day, number)
        if row is None:
            prefix = next((p for p in prefixes if number.startswith(p)
                           and number[len(p):].isdigit()), None)
            if prefix is None:
                refused.append({"number": number, "error": (
                    f"tickets[{i}]: field 'number': {number} is from no device's block "
                    f"(station.toml [[fallback]]) and the station did not issue it on {day}")})
            elif t["status"] == "waiting" and t["service"] not in v.cfg.services:
                # Only a ticket still to call needs a window that serves it; one a device
                # served is history (a brought ticket's service is the window's guess).
                refused.append({"number": number, "error": (
                    f"tickets[{i}]: field 'service': {t['service']!r} is served at no "
                    "window of this station")})
            else:
                out.writers.append(v.store.insert_ticket({**t, "issued_by": v.device}))
                out.writers.append(v.store.count_number(day, prefix, int(number[len(prefix):])))
                taken.append(number)
        elif row["status"] == "waiting" and t["status"] != "waiting":
            out.writers.append(v.store.update_ticket(
                int(row["id"]), status=t["status"], window=int(t["window"]),
                called_ts=t["called_ts"], done_ts=t["done_ts"]))
            taken.append(number)
        else:
            already.append(number)
    return out


def _void_replaced(v: View, rid: str, voided: list[str], out: Outcome) -> None:
    """The device gave up on request ``rid`` and issued a block ticket instead. If the
    station took that request (its answer was lost: killed between the commit and the
    reply), the ticket it issued is in nobody's hand: void it while it still waits, so no
    window calls a number nobody holds."""
    answer = v.store.response(rid)
    number = ((answer or {}).get("ticket") or {}).get("number") if answer else None
    day = ((answer or {}).get("ticket") or {}).get("day") if answer else None
    if not number or not day:
        return  # the request never reached the station: nothing was issued for it
    row = v.store.ticket(str(day), str(number))
    if row is not None and row["status"] == "waiting":
        out.writers.append(v.store.update_ticket(int(row["id"]), status="void"))
        voided.append(str(number))
