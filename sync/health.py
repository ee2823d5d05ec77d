"""What the counter reports on ``.../health`` (QoS 0, periodic) and ``.../state`` (retained),
and the :class:`Reporter` that publishes them.

Read through the store's named methods and from the OS only; no personal data: the state carries
the mode, the officer's badge and the away notice, never mirror values.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from device import __version__
from device.store import Store
from sync.outbox import OutboxPublisher
from sync.sink import Sink
from sync.topics import Topics

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


def peripherals(store: Store, limit: int = 2000) -> dict[str, dict[str, Any]]:
    """Status per component from the latest device.fault / device.recovered events."""
    out: dict[str, dict[str, Any]] = {}
    for row in store.fault_events(limit):
        etype, ts = row["type"], row["ts"]
        try:
            data = json.loads(row["body"]).get("data", {})
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


def people_waiting(store: Store) -> int | None:
    """Tickets issued and not yet called today, if this counter runs a queue."""
    return store.tickets_waiting()


def outbox(store: Store, now: float) -> tuple[int, float | None]:
    depth, oldest = store.outbox_depth()
    age = round(max(0.0, now - _parse_ts(oldest)), 1) if oldest else None
    return depth, age


def health(store: Store, now: float) -> dict[str, Any]:
    depth, age = outbox(store, now)
    try:
        free = shutil.disk_usage(store.path.parent).free
    except OSError:
        free = None
    return {
        "ts": datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace(
            "+00:00", "Z"),
        "head_seq": store.head()[0],
        "outbox_depth": depth,
        "oldest_unsent_age_s": age,
        "db_bytes": store.size_bytes(),
        "disk_free_bytes": free,
        "cpu_temp_c": cpu_temperature_c(),
        "peripherals": peripherals(store),
        "people_waiting": people_waiting(store),
    }


def state(store: Store, *, online: bool, now: float) -> dict[str, Any]:
    """The retained state: who is on duty, away or not, versions. No personal data."""
    try:
        snap: dict[str, Any] = store.load_state() or {}
    except json.JSONDecodeError:
        snap = {}
    away = snap.get("away") if isinstance(snap.get("away"), dict) else None
    versions = store.content_versions()
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


class Reporter:
    """Publishes the state (retained; only when it changed, ts aside) and the health."""

    def __init__(self, store: Store, topics: Topics, sink: Sink, outbox: OutboxPublisher, *,
                 clock: Callable[[], float], online: Callable[[], bool]) -> None:
        self.store = store
        self.topics = topics
        self.sink = sink
        self.outbox = outbox
        self.clock = clock
        self.online = online  # the broker accepted this connection (CONNACK)
        self._last_state: dict[str, Any] | None = None

    def forget_state(self) -> None:
        """The next :meth:`publish_state` publishes even an unchanged state (a new
        connection, HQ's publish_state command)."""
        self._last_state = None

    def publish_state(self) -> None:
        if not self.online():
            return
        doc = state(self.store, online=True, now=self.clock())
        comparable = {k: v for k, v in doc.items() if k != "ts"}
        if comparable == self._last_state:
            return
        self._last_state = comparable
        self.sink.publish(self.topics.state, json.dumps(doc, ensure_ascii=False).encode(),
                          qos=1, retain=True)

    def publish_health(self) -> None:
        doc = health(self.store, self.clock())
        doc["inflight"] = self.outbox.pending_count
        doc["connection"] = self.outbox.connection
        self.sink.publish(self.topics.health, json.dumps(doc, ensure_ascii=False).encode(),
                          qos=0)
