"""Reads of the event journal by what a person asks of it, and a read-only opener.

:class:`JournalReads` is a Store mixin (the monthly ratings the screen shows) that
:class:`JournalReader` shares: ``kiosk events`` and ``kiosk doctor`` read the counter's
file read-only, as a technician's user, without migrating or locking it for writing.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from device.events import EventType
from device.store_types import Records


class JournalReads(Records):
    """Named reads of ``events``."""

    def rating_counts_since(self, since_iso: str) -> dict[str, int]:
        """How many ``rating.given`` events of each level since ``since_iso`` (UTC)."""
        rows = self._dicts(
            "SELECT json_extract(body, '$.data.level') AS level, count(*) AS n FROM events "
            "WHERE type = ? AND ts >= ? GROUP BY 1", (str(EventType.RATING_GIVEN), since_iso))
        return {str(r["level"]): int(r["n"]) for r in rows}

    def recent_events(self, *, limit: int | None = None,
                      unsent_only: bool = False) -> list[tuple[str, str | None]]:
        """(body, sent_at) of the newest ``limit`` events, oldest first."""
        sql = "SELECT body, sent_at FROM events"
        if unsent_only:
            sql += " WHERE sent_at IS NULL"
        sql += " ORDER BY seq DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [(r["body"], r["sent_at"]) for r in self._dicts(sql)][::-1]

    def outbox_depth(self) -> tuple[int, str | None]:
        """How many rows wait for HQ, and the ts of the oldest (None: the outbox is empty)."""
        row = self._dicts("SELECT count(*) AS depth, min(ts) AS oldest FROM events "
                          "WHERE sent_at IS NULL")[0]
        return int(row["depth"]), row["oldest"]

    def newest_event(self) -> tuple[str | None, str | None]:
        """(latest ts, body of the last event); (None, None) in an empty journal. The
        latest timestamp, not the last event's: after a clock step back they differ, and
        the doctor compares the clock with the latest."""
        rows = self._dicts("SELECT (SELECT max(ts) FROM events) AS ts, body FROM events "
                           "ORDER BY seq DESC LIMIT 1")
        return (rows[0]["ts"], rows[0]["body"]) if rows else (None, None)

    def check_problems(self) -> list[str]:
        """SQLite's quick_check findings; empty when the file is sound."""
        with self._lock:
            rows = self.conn.execute("PRAGMA quick_check").fetchall()
        return [] if rows == [("ok",)] else [str(r[0]) for r in rows]


class JournalReader(JournalReads):
    """kiosk.db opened read-only (``mode=ro``): never migrates, never writes.

    Opening raises :class:`sqlite3.Error` when the file cannot be opened (permissions);
    reads raise :class:`sqlite3.DatabaseError` on a damaged file: the callers word both.
    """

    def __init__(self, path: Path, *, timeout: float = 10.0) -> None:
        self.path = path
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)
        self.db = sqlite_utils.Database(self.conn)
        self._lock = threading.RLock()

    def close(self) -> None:
        self.conn.close()
