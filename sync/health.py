"""What the counter reports on ``.../health`` (QoS 0, periodic) and ``.../state`` (retained).

Read from the shared SQLite file and the OS only; no personal data: the state carries
the mode, the officer's badge and the away notice, never mirror values.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from device import __version__

THERMAL = Path("/sys/class/thermal")


class Beat(Protocol):
    """What a work loop tells about its progress: the program shell passes a
    ``kiosk.sdnotify.Heartbeat``, which the systemd watchdog reads."""

    def beat(self) -> None: ...


class NoBeat:
    """The default outside the program shell (tests, benchmarks): progress told to nobody."""

    def beat(self) -> None:
        pass


def _parse_ts(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def cpu_temperature_c(root: Path = THERMAL) -> float | None:
    """The CPU (first thermal zone) in °C, or None where the kernel exposes none."""
    for zone in sorted(root.glob("thermal_zone*")):
        try:
            return round(int((zone / "temp").read_text().strip()) / 1000.0, 1)
        except (OSError, ValueError):
            continue
    return None


def peripherals(conn: sqlite3.Connection, limit: int = 2000) -> dict[str, dict[str, Any]]:
    """Status per component from the latest device.fault / device.recovered events."""
    rows = conn.execute(
        "SELECT type, ts, body FROM events WHERE type IN ('device.fault', 'device.recovered') "
        "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
    out: dict[str, dict[str, Any]] = {}
    for etype, ts, body in rows:
        try:
            data = json.loads(body).get("data", {})
        except json.JSONDecodeError:
            continue
        comp = str(data.get("component", "unknown"))[:40]
        if comp in out:
            continue  # newer event already seen
        if etype == "device.fault":
            out[comp] = {"ok": False, "fault": str(data.get("fault", ""))[:80], "since": ts}
        else:
            out[comp] = {"ok": True, "since": ts}
    return out


def people_waiting(conn: sqlite3.Connection) -> int | None:
    """Tickets issued and not yet called today, if this counter runs a queue."""
    has = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue_tickets'").fetchone()
    if not has:
        return None
    row = conn.execute(
        "SELECT count(*) FROM queue_tickets WHERE called_ts IS NULL AND "
        "day = (SELECT max(day) FROM queue_tickets)").fetchone()
    return int(row[0])


def outbox(conn: sqlite3.Connection, now: float) -> tuple[int, float | None]:
    depth, oldest = conn.execute(
        "SELECT count(*), min(ts) FROM events WHERE sent_at IS NULL").fetchone()
    age = round(max(0.0, now - _parse_ts(oldest)), 1) if oldest else None
    return int(depth), age


def health(conn: sqlite3.Connection, db_path: Path, now: float) -> dict[str, Any]:
    depth, age = outbox(conn, now)
    try:
        free = shutil.disk_usage(db_path.parent).free
    except OSError:
        free = None
    size = sum(p.stat().st_size for p in (db_path, Path(f"{db_path}-wal")) if p.exists())
    row = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
    head = int(row[0].split(":", 1)[0]) if row else 0
    return {
        "ts": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace(
            "+00:00", "Z"),
        "head_seq": head,
        "outbox_depth": depth,
        "oldest_unsent_age_s": age,
        "db_bytes": size,
        "disk_free_bytes": free,
        "cpu_temp_c": cpu_temperature_c(),
        "peripherals": peripherals(conn),
        "people_waiting": people_waiting(conn),
    }


def state(conn: sqlite3.Connection, *, online: bool, now: float) -> dict[str, Any]:
    """The retained state: who is on duty, away or not, versions. No personal data."""
    row = conn.execute("SELECT body FROM counter_state WHERE id = 1").fetchone()
    snap: dict[str, Any] = {}
    if row:
        try:
            snap = json.loads(row[0])
        except json.JSONDecodeError:
            snap = {}
    away = snap.get("away") if isinstance(snap.get("away"), dict) else None
    versions = dict(conn.execute("SELECT kind, version FROM site_content").fetchall())
    return {
        "online": online,
        "ts": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace(
            "+00:00", "Z"),
        "mode": str(snap.get("mode", "idle")),
        "officer": str(snap.get("officer", "")),
        "away": None if away is None else {
            k: str(away.get(k, "")) for k in ("reason", "return_at", "backup", "since")},
        "software": __version__,
        "catalogue_version": versions.get("catalogue"),
        "content_versions": versions,
    }


def offline_state() -> dict[str, Any]:
    """The Last Will: what the broker publishes (retained) when the counter vanishes."""
    return {"online": False}
