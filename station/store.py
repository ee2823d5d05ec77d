"""station.db: the station queue's tables next to device.store's journal.

The file is a :class:`device.store.Store` of device ``station`` (WAL, synchronous=FULL,
the hash-chained journal and outbox), so an unmodified ``kiosk-sync`` pointed at it
uplinks the station's events to HQ. The queue's tables (station/migrations.py) are
written only by writers that run inside :meth:`StationStore.commit`, i.e. in the one
``BEGIN IMMEDIATE`` transaction of ``Store.append`` with the events and the request's
stored response: what a request changed, its events and its answer are on disk together
or not at all. Every SQL statement on the queue's tables is in this module.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.events import Draft, Envelope
from device.store import Store, Writer
from station import migrations
from station.config import STATION_DEVICE

Row = dict[str, Any]
_TICKET = ("id, day, number, service, priority, appointment, issued_ts, issued_by, status, "
           "window, to_window, called_ts, done_ts, no_shows, recalls, place")


class StationStore:
    """The station's file. One writer process (kiosk-station); the service serialises."""

    def __init__(self, path: Path, *, site: str) -> None:
        self.path = Path(path)
        self.journal = Store(self.path, site=site, device=STATION_DEVICE)
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        with self.journal._lock:
            migrations.apply(self.journal.conn, now)

    def close(self) -> None:
        self.journal.close()

    # ------------------------------------------------------------------ the commit

    def commit(self, drafts: Sequence[Draft], writers: Sequence[Writer]) -> list[Envelope]:
        """Events and writers in one transaction; returns after COMMIT (StoreError else)."""
        return self.journal.append(drafts, also=writers)

    # ------------------------------------------------------------------ reads

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self.journal._lock:
            cur = self.journal.conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def tickets(self, day: str, *statuses: str) -> list[Row]:
        """``day``'s tickets (of ``statuses``, all when none), in the order issued."""
        where, params = "day = ?", (day, *statuses)
        if statuses:
            where += f" AND status IN ({', '.join('?' * len(statuses))})"
        return self._rows(f"SELECT {_TICKET} FROM station_tickets WHERE {where} "
                          "ORDER BY issued_ts, id", params)

    def ticket(self, day: str, number: str) -> Row | None:
        rows = self._rows(f"SELECT {_TICKET} FROM station_tickets WHERE day = ? AND "
                          "number = ?", (day, number))
        return rows[0] if rows else None

    def serving(self, day: str, window: int) -> Row | None:
        """The ticket ``window`` serves now (called there, not done)."""
        rows = self._rows(f"SELECT {_TICKET} FROM station_tickets WHERE day = ? AND "
                          "status = 'called' AND window = ? ORDER BY called_ts DESC LIMIT 1",
                          (day, window))
        return rows[0] if rows else None

    def recent_calls(self, day: str, limit: int) -> list[Row]:
        return self._rows("SELECT number, window, called_ts FROM station_tickets WHERE "
                          "day = ? AND called_ts IS NOT NULL ORDER BY called_ts DESC, id DESC "
                          "LIMIT ?", (day, limit))

    def number_count(self, day: str, prefix: str) -> int:
        rows = self._rows("SELECT count FROM station_numbering WHERE day = ? AND prefix = ?",
                          (day, prefix))
        return int(rows[0]["count"]) if rows else 0

    def windows(self) -> dict[int, Row]:
        return {int(r["number"]): r for r in self._rows(
            "SELECT number, away, backup, since, alerted FROM station_windows")}

    def response(self, rid: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT response FROM station_requests WHERE rid = ?", (rid,))
        return json.loads(rows[0]["response"]) if rows else None

    def service_times(self) -> dict[tuple[str, int], tuple[float, int]]:
        return {(r["service"], int(r["window"])): (float(r["avg_s"]), int(r["n"]))
                for r in self._rows("SELECT service, window, avg_s, n FROM "
                                    "station_service_times")}

    def meta(self, key: str, default: str = "") -> str:
        rows = self._rows("SELECT value FROM station_meta WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else default

    # ------------------------------------------------------------------ writers
    # Each runs inside commit()'s transaction.

    @staticmethod
    def count_number(day: str, prefix: str, count: int) -> Writer:
        """``prefix``'s day count is at least ``count`` (a reconciled block never lowers
        it, and the station never numbers below what it issued)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO station_numbering (day, prefix, count) VALUES (?, ?, ?) "
                         "ON CONFLICT(day, prefix) DO UPDATE SET count = max(count, "
                         "excluded.count)", (day, prefix, count))

        return write

    @staticmethod
    def insert_ticket(row: Row) -> Writer:
        """A new ticket: day, number, service, priority, appointment, issued_ts,
        issued_by, and optionally status, window, to_window, called_ts, done_ts
        (reconciled)."""
        full = {"status": "waiting", "window": 0, "to_window": 0, "called_ts": None,
                "done_ts": None, **row}

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO station_tickets (day, number, service, priority, appointment, "
                "issued_ts, issued_by, status, window, to_window, called_ts, done_ts) VALUES "
                "(:day, :number, :service, :priority, :appointment, :issued_ts, :issued_by, "
                ":status, :window, :to_window, :called_ts, :done_ts)", full)

        return write

    _COLUMNS = frozenset({"service", "priority", "status", "window", "to_window", "called_ts",
                          "done_ts", "no_shows", "recalls", "place"})

    @classmethod
    def update_ticket(cls, ticket_id: int, **values: Any) -> Writer:
        bad = set(values) - cls._COLUMNS
        if bad:
            raise ValueError(f"not a ticket column: {sorted(bad)}")
        sets = ", ".join(f"{k} = :{k}" for k in values)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(f"UPDATE station_tickets SET {sets} WHERE id = :id",
                         {**values, "id": ticket_id})

        return write

    @staticmethod
    def set_window(number: int, *, away: bool, backup: int, since: float,
                   alerted: bool = False) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO station_windows (number, away, backup, since, alerted) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT(number) DO UPDATE SET "
                         "away = excluded.away, backup = excluded.backup, since = "
                         "excluded.since, alerted = excluded.alerted",
                         (number, int(away), backup, since, int(alerted)))

        return write

    @staticmethod
    def save_response(rid: str, day: str, device: str, op: str, response: dict[str, Any],
                      ts: float) -> Writer:
        body = json.dumps(response, ensure_ascii=False, sort_keys=True)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO station_requests (rid, day, device, op, response, ts) "
                         "VALUES (?, ?, ?, ?, ?, ?)", (rid, day, device, op, body, ts))

        return write

    @staticmethod
    def prune_requests(before_day: str) -> Writer:
        """Responses of days before ``before_day``: no client resends that late."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM station_requests WHERE day < ?", (before_day,))

        return write

    @staticmethod
    def service_time(service: str, window: int, avg_s: float, n: int) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO station_service_times (service, window, avg_s, n) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT(service, window) DO UPDATE SET "
                         "avg_s = excluded.avg_s, n = excluded.n", (service, window, avg_s, n))

        return write

    @staticmethod
    def set_meta(key: str, value: str) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO station_meta (key, value) VALUES (?, ?) ON "
                         "CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

        return write
