"""What kiosk-sync reads and writes in kiosk.db: the outbox, HQ's confirmation, site
content from the downlink, and what health and state report.

The Store's methods for it (a mixin like :class:`device.shedding.Shedding`: they use its
connection, lock and transactions), so every statement the sync process runs on the
counter's file is a named method here and sync/ holds no SQL of kiosk.db. Reads hold the
lock; writes are one ``BEGIN IMMEDIATE`` transaction each.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from device.store_types import Records


def _now_iso() -> str:
    # The one text form of sent_at (milliseconds, "Z"): string comparison is time order.
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ContentWrite:
    """What :meth:`SyncRecords.put_content` did with one site-content document."""

    applied: bool
    stored: str | None  # the version stored before (None: the first of its kind)
    older: bool = False  # refused: older than ``stored`` and no rollback to it allowed


class SyncRecords(Records):
    """Store methods of the sync process: outbox, confirmation, content, health reads.
    (The outbox's depth is :meth:`JournalReads.outbox_depth`: the doctor reads it too.)"""

    # ------------------------------------------------------------------ the outbox

    def count_unsent(self) -> int:
        with self._lock:
            return int(self.conn.execute(
                "SELECT count(*) FROM events WHERE sent_at IS NULL").fetchone()[0])

    def outbox_empty(self) -> bool:
        """No row waits to be sent (cheaper than :meth:`count_unsent` on a full outbox)."""
        with self._lock:
            return self.conn.execute(
                "SELECT 1 FROM events WHERE sent_at IS NULL LIMIT 1").fetchone() is None

    def last_seq(self) -> int:
        """The highest seq in the events table (0: none), sent or not."""
        with self._lock:
            return int(self.conn.execute(
                "SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def unsent_after(self, after_seq: int, limit: int) -> list[tuple[int, str, str]]:
        """Up to ``limit`` unsent rows above ``after_seq`` in seq order: (seq, ts, body),
        the body being the stored envelope, byte for byte what is published."""
        with self._lock:  # rows as sqlite3 gives them: this is the drain's hot path
            return self.conn.execute(
                "SELECT seq, ts, body FROM events WHERE sent_at IS NULL AND seq > ? "
                "ORDER BY seq LIMIT ?", (after_seq, limit)).fetchall()

    def mark_sent(self, seqs: Sequence[int]) -> None:
        """Mark rows sent: one UPDATE per run of consecutive seqs (PUBACKs arrive in
        order, so a drain of thousands of rows is a handful of statements)."""
        if not seqs:
            return
        runs: list[tuple[int, int]] = []
        for seq in sorted(seqs):
            if runs and seq == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], seq)
            elif not runs or seq > runs[-1][1]:
                runs.append((seq, seq))
        now = _now_iso()
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE events SET sent_at = ? WHERE seq BETWEEN ? AND ? AND sent_at IS NULL",
                [(now, a, b) for a, b in runs],
            )

    def requeue_range(self, from_seq: int, to_seq: int) -> int:
        """Mark the sent rows ``from_seq..to_seq`` unsent again (HQ's cmd/resend);
        returns how many."""
        with self.transaction() as conn:
            return conn.execute(
                "UPDATE events SET sent_at = NULL WHERE seq BETWEEN ? AND ? "
                "AND sent_at IS NOT NULL", (from_seq, to_seq)).rowcount

    def prune_sent(self, older_than_days: int) -> int:
        """Retention: delete rows sent that long ago, and only those HQ confirmed it holds
        (a PUBACK says only that the broker took it)."""
        # The same text form as sent_at (milliseconds, "Z"), so the string comparison holds.
        cutoff = (datetime.now(UTC) - timedelta(days=older_than_days)).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        with self.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM events WHERE sent_at IS NOT NULL AND sent_at < ? AND seq <= ?",
                (cutoff, self._confirmed(conn) or 0),
            )
            return cur.rowcount

    # ------------------------------------------------------------------ HQ's confirmation

    @staticmethod
    def _confirmed(conn: sqlite3.Connection) -> int | None:
        row = conn.execute("SELECT value FROM meta WHERE key = 'hq_confirmed'").fetchone()
        return int(row[0]) if row else None

    def hq_confirmed(self) -> int | None:
        """The highest seq up to which HQ holds every event (Topics.confirmed), or None
        when HQ never confirmed anything."""
        with self._lock:
            return self._confirmed(self.conn)

    def set_hq_confirmed(self, upto: int) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES ('hq_confirmed', ?) "
                         "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (str(upto),))

    def requeue_unconfirmed(self, after_seq: int, sent_before: str,
                            limit: int) -> tuple[int, int]:
        """Mark unsent again up to ``limit`` rows above ``after_seq`` (HQ's confirmed seq)
        that were sent before ``sent_before`` (ISO, as sent_at); returns the first and
        last seq re-queued ((0, 0): none)."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT min(seq), max(seq) FROM (SELECT seq FROM events WHERE seq > ? AND "
                "sent_at IS NOT NULL AND sent_at < ? ORDER BY seq LIMIT ?)",
                (after_seq, sent_before, limit)).fetchone()
            first, last = int(row[0] or 0), int(row[1] or 0)
            if last:
                conn.execute("UPDATE events SET sent_at = NULL WHERE seq BETWEEN ? AND ? "
                             "AND sent_at IS NOT NULL AND sent_at < ?",
                             (first, last, sent_before))
            return first, last

    # ------------------------------------------------------------------ site content

    def content_versions(self) -> dict[str, str]:
        """The stored version of each site-content kind."""
        with self._lock:
            return {str(r["kind"]): str(r["version"]) for r in self.db.query(
                "SELECT kind, version FROM site_content")}

    def allow_rollback(self, kind: str, version: str) -> None:
        """Record HQ's order to go back to ``version`` (kept until that version is applied)."""
        with self.transaction() as conn:
            conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET value = excluded.value", (f"rollback:{kind}", version))

    def put_content(self, kind: str, version: str, body: str, updated_ts: str, *,
                    is_older: Callable[[str, str], bool]) -> ContentWrite:
        """Store ``body`` as the current ``kind`` in one transaction.

        Nothing is written when ``version`` is stored already (a retained message
        delivered again), nor when ``is_older(version, stored)`` and HQ's rollback order
        names another version; a rollback order used up is deleted with the write. The
        order of versions is the caller's (sync/downlink.py), so is the check of ``body``.
        """
        with self.transaction() as conn:
            row = conn.execute("SELECT version FROM site_content WHERE kind = ?",
                               (kind,)).fetchone()
            stored = str(row[0]) if row else None
            if stored == version:
                return ContentWrite(applied=False, stored=stored)
            if stored is not None and is_older(version, stored):
                key = f"rollback:{kind}"
                row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
                if (str(row[0]) if row else None) != version:
                    return ContentWrite(applied=False, stored=stored, older=True)
                conn.execute("DELETE FROM meta WHERE key = ?", (key,))
            conn.execute(
                "INSERT INTO site_content (kind, version, body, updated_ts) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind) DO UPDATE SET version = excluded.version, "
                "body = excluded.body, updated_ts = excluded.updated_ts",
                (kind, version, body, updated_ts))
            return ContentWrite(applied=True, stored=stored)

    # ------------------------------------------------------------------ health reads

    def fault_events(self, limit: int) -> list[dict[str, Any]]:
        """The latest ``limit`` device.fault / device.recovered rows, newest first, as
        {"type", "ts", "body"}."""
        with self._lock:
            return list(self.db.query(
                "SELECT type, ts, body FROM events WHERE type IN ('device.fault', "
                "'device.recovered') ORDER BY seq DESC LIMIT ?", (limit,)))

    def tickets_waiting(self) -> int | None:
        """Tickets issued and not yet called on the latest day, or None when this
        counter never ran a queue (no queue_tickets table)."""
        with self._lock:
            if not self.db["queue_tickets"].exists():
                return None
            return int(self.conn.execute(
                "SELECT count(*) FROM queue_tickets WHERE called_ts IS NULL AND "
                "day = (SELECT max(day) FROM queue_tickets)").fetchone()[0])
