"""Alerts opened inside the collector's ingest transaction, as hq.workorders.opening
opens 差评 work orders: only for events whose chain verified, in one statement per 200.

Exactly once: an alert's key is its event's id, so the same event again (a QoS 1
duplicate, a resend, the re-walk of every chain in ``HqStore.reverify``) inserts
nothing; a replay under a new id never verifies (the chain walk rejects it) and so
never reaches here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC
from typing import Any

from hq import clock
from hq.alerts.texts import Action, Kind, State, describe, window_of
from hq.facts import STATION_DEVICE

# The events the chain walk hands to on_verified (hq/store.py).
OPENS = tuple(k.value for k in Kind)
# A window's own events never open a station alert: the station is the one that counts
# the hall (hq.facts.STATION_DEVICE, kiosk-station's device id in its site).
_COLUMNS = ("id", "site", "device", "kind", "window_no", "text", "data", "event_ts",
            "created_at", "simulated", "state")


def on_verified(db: Any, evs: Sequence[Mapping[str, Any]], _now: str) -> list[dict[str, Any]]:
    """Open the alerts of a batch's verified station events; returns those opened."""
    since = db.conn.ops.adapt_datetimefield_value(clock.now().astimezone(UTC))
    rows = [_row(ev, since) for ev in evs
            if ev["type"] in OPENS and ev["device"] == STATION_DEVICE]
    opened: list[dict[str, Any]] = []
    for i in range(0, len(rows), 200):
        chunk = rows[i:i + 200]
        added = {str(r[0]) for r in db.all(
            f"INSERT INTO hq_alerts ({', '.join(_COLUMNS)}) VALUES "
            + ", ".join([f"({', '.join('?' * len(_COLUMNS))})"] * len(chunk))
            + " ON CONFLICT (id) DO NOTHING RETURNING id",
            [row[c] for row in chunk for c in _COLUMNS])}
        some = [row for row in chunk if row["id"] in added]
        if some:
            db.execute("INSERT INTO hq_alert_record (alert_id, at, actor, action, note) VALUES "
                       + ", ".join(["(?, ?, ?, ?, ?)"] * len(some)),
                       [x for row in some for x in (row["id"], since, "系统",
                                                    Action.OPENED.value, "站点上报")])
        opened += some
    return opened


def _row(ev: Mapping[str, Any], since: Any) -> dict[str, Any]:
    kind = Kind(ev["type"])
    data = ev["data"] if isinstance(ev.get("data"), Mapping) else {}
    return {"id": ev["id"], "site": ev["site"], "device": ev["device"], "kind": kind.value,
            "window_no": window_of(kind, data), "text": describe(kind, data),
            "data": json.dumps(data, ensure_ascii=False, separators=(",", ":")),
            "event_ts": ev["ts"], "created_at": since,
            "simulated": int(data.get("simulated") is True), "state": State.OPEN.value}
