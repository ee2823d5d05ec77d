"""Work orders opened inside the collector's ingest transaction, and the callback phone
kept out of the event store.

The phone a citizen leaves with a 差评 (rating.details) or a comment reaches HQ only
inside its work order: the stored event body goes without it and says so
(``redacted``), and the chain walk, which verified the event with the phone before it
was stored, does not re-check the content hash of a redacted stored body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from device.events import HASHED_FIELDS
from device.rating import RatingLevel
from hq import clock
from hq.lifecycle import State

PHONE = "callback_phone"
_SPLICED = frozenset({*HASHED_FIELDS, "prev", "hash"})
_HEX = re.compile(r"[0-9a-f]*")
OPENS = ("rating.given", "rating.details")  # the events on_verified looks at
REDACTED = "redacted"


def stored_body(ev: Mapping[str, Any], hashed: str | None = None) -> str:
    """The event as hq_events keeps it: without a callback phone. ``hashed``, the
    canonical text its hash covers (device.events.hashed_text), is reused when it is the
    whole event but its links: one encoding per event, not two, at 10-20k events/s."""
    data = ev.get("data")
    if isinstance(data, dict) and data.get(PHONE):
        ev = {**ev, "data": {k: v for k, v in data.items() if k != PHONE},
              REDACTED: [f"data.{PHONE}"]}
    elif hashed is not None and ev.keys() <= _SPLICED and len(hashed) > 2:
        prev, link = ev.get("prev"), ev.get("hash")
        if isinstance(prev, str) and isinstance(link, str) and _HEX.fullmatch(prev + link):
            return f'{hashed[:-1]},"prev":"{prev}","hash":"{link}"}}'  # hex: nothing to escape
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))


def on_verified(db: Any, evs: Sequence[Mapping[str, Any]], now: str) -> list[dict[str, Any]]:
    """Open the work orders of a batch's unsatisfied ratings, then give orders their
    reasons and phones, in chain order (a rating's details follow it). Returns the
    orders opened (for the log: no phone in them). One statement opens them all."""
    since = db.conn.ops.adapt_datetimefield_value(clock.now().astimezone(UTC))
    orders = [_order(ev) for ev in evs
              if ev["type"] == "rating.given" and ev["data"].get("unsatisfied") is True]
    opened: list[dict[str, Any]] = []
    for i in range(0, len(orders), 200):
        chunk = orders[i:i + 200]
        # No conflict target: a second rating of the same case (another id) opens nothing
        # either (one order per case, the table's unique constraint).
        added = {str(r[0]) for r in db.all(
            "INSERT INTO work_orders (id, site, device, officer, case_no, service, level, "
            "event_ts, created_at, simulated, state, state_since) VALUES "
            + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
            + " ON CONFLICT DO NOTHING RETURNING id",
            [x for wo, sim in chunk
             for x in (*wo.values(), now, sim, State.VISIT.value, since)])}
        opened += [wo for wo, _sim in chunk if wo["id"] in added]
    for i in range(0, len(opened), 200):  # one statement per 200, as the orders
        some = opened[i:i + 200]
        db.execute("INSERT INTO work_order_audit (order_id, at, actor, action, from_state, "
                   "to_state, note) VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(some)),
                   [x for wo in some for x in (
                       wo["id"], since, "系统", "opened", "", State.VISIT.value,
                       f"群众评价「{_level_label(wo['level'])}」，自动生成工单")])
    for ev in evs:
        if ev["type"] == "rating.details":
            _details(db, ev["site"], ev["device"], ev["data"])
    return opened


def _order(ev: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    data = ev["data"]
    return ({"id": ev["id"], "site": ev["site"], "device": ev["device"],
             "officer": str(data.get("officer", "")), "case_no": str(data.get("case_no", "")),
             "service": str(data.get("service", "")), "level": str(data.get("level", "")),
             "event_ts": ev["ts"]}, int(data.get("simulated") is True))


def _details(db: Any, site: str, device: str, data: Mapping[str, Any]) -> None:
    reasons = data.get("reasons")
    reasons = [str(r) for r in reasons] if isinstance(reasons, list) else []
    phone = str(data.get(PHONE) or "")
    key = (site, device, str(data.get("case_no", "")))
    db.execute("UPDATE work_orders SET reasons = ? WHERE site = ? AND device = ? AND "
               "case_no = ?", (json.dumps(reasons, ensure_ascii=False), *key))
    if phone:  # a re-walk of stored (redacted) bodies must not erase it
        db.execute("UPDATE work_orders SET phone = ? WHERE site = ? AND device = ? AND "
                   "case_no = ? AND phone_deleted_at IS NULL", (phone, *key))


def _level_label(level: str) -> str:
    try:
        return RatingLevel(level).label
    except ValueError:
        return level
