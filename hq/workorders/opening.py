"""Work orders opened inside the collector's ingest transaction, and the callback phone
kept out of the event store.

The phone a citizen leaves with a 差评 (rating.details) or a comment reaches HQ only
inside its work order: the stored event body goes without it and says so
(``redacted``), and the chain walk, which verified the event with the phone before it
was stored, does not re-check the content hash of a redacted stored body.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import Any

from device.rating import RatingLevel
from hq import clock
from hq.lifecycle import State

PHONE = "callback_phone"
REDACTED = "redacted"


def stored_body(ev: Mapping[str, Any]) -> str:
    """The event as hq_events keeps it: without a callback phone."""
    data = ev.get("data")
    if isinstance(data, Mapping) and data.get(PHONE):
        ev = {**ev, "data": {k: v for k, v in data.items() if k != PHONE},
              REDACTED: [f"data.{PHONE}"]}
    return json.dumps(ev, ensure_ascii=False, separators=(",", ":"))


def on_verified(db: Any, ev: Mapping[str, Any], now: str) -> dict[str, Any] | None:
    """Open the work order of an unsatisfied rating, or give one its reasons and phone.
    Returns the order opened (for the log: no phone in it), else None."""
    data = ev["data"]
    if ev["type"] == "rating.details":
        _details(db, ev["site"], ev["device"], data)
        return None
    if ev["type"] != "rating.given" or data.get("unsatisfied") is not True:
        return None
    wo = {"id": ev["id"], "site": ev["site"], "device": ev["device"],
          "officer": str(data.get("officer", "")), "case_no": str(data.get("case_no", "")),
          "service": str(data.get("service", "")), "level": str(data.get("level", "")),
          "event_ts": ev["ts"]}
    since = db.conn.ops.adapt_datetimefield_value(clock.now().astimezone(UTC))
    # No conflict target: a second rating of the same case (another id) opens nothing
    # either (one order per case, the table's unique constraint).
    added = db.execute(
        "INSERT INTO work_orders (id, site, device, officer, case_no, service, level, "
        "event_ts, created_at, simulated, state, state_since) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (*wo.values(), now, int(data.get("simulated") is True), State.VISIT.value, since))
    if added:
        db.execute("INSERT INTO work_order_audit (order_id, at, actor, action, from_state, "
                   "to_state, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (wo["id"], since, "系统", "opened", "", State.VISIT.value,
                    f"群众评价「{_level_label(wo['level'])}」，自动生成工单"))
        return wo
    return None


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
