"""The Store's methods on the queue tables (``queue_tickets``, ``appointment_checkins``).

Reads return rows as dicts named by column; writes are :data:`Writer` s that commit in
the transaction of the event that caused them (``ticket.issued``, ``ticket.called``).
The queue's rules (numbering, priority, who is called next) are device/tickets.py's and
device/queue.py's; this module only knows the tables.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from device.store_types import Records, Writer

_COLUMNS = ("id, number, service, grp, priority, appointment, issued_ts, called_ts, recalls, "
            "no_shows, place, gone, intake, replaces")
_WAITING = "day = ? AND called_ts IS NULL AND gone = ''"
# Call order within a priority: the order issued, unless a requeued no-show was placed.
_KEY = "COALESCE(place, id)"


class QueueRecords(Records):
    """Store methods: tickets of a day, who is ahead, issue and call marks, check-ins."""

    def waiting_tickets(self, day: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        """``day``'s waiting tickets in call order: higher priority first, then issue order."""
        sql = (f"SELECT {_COLUMNS} FROM queue_tickets WHERE {_WAITING} "
               f"ORDER BY priority DESC, {_KEY}, id")
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._dicts(sql, (day,))

    def tickets_ahead(self, day: str, priority: int, *, before_id: int | None = None) -> int:
        """Waiting tickets of ``day`` called before ticket ``before_id`` of ``priority``;
        without an id, before a ticket of ``priority`` issued now (ties go first)."""
        params: tuple[int, ...]
        if before_id is None:
            where, params = "priority >= ?", (priority,)
        else:
            where = (f"(priority > ? OR (priority = ? AND {_KEY} < (SELECT {_KEY} "
                     "FROM queue_tickets WHERE id = ?)))")
            params = (priority, priority, before_id)
        return int(self._scalar(
            f"SELECT count(*) FROM queue_tickets WHERE {_WAITING} AND {where}", (day, *params)))

    def ticket_numbered(self, day: str, number: str) -> dict[str, Any] | None:
        rows = self._dicts(f"SELECT {_COLUMNS} FROM queue_tickets WHERE day = ? AND number = ?",
                           (day, number))
        return rows[0] if rows else None

    def tickets_issued(self, day: str) -> int:
        """How many tickets ``day`` has issued to citizens (the next number is one more);
        intakes handed on to ``day`` are numbered apart (:meth:`intakes_queued`)."""
        with self._lock:
            return int(self.db["queue_tickets"].count_where(
                "day = ? AND intake = '' AND brought = 0", [day]))

    def intakes_queued(self, day: str) -> int:
        """How many after-hours intakes were handed on to ``day``'s queue."""
        with self._lock:
            return int(self.db["queue_tickets"].count_where("day = ? AND intake != ''", [day]))

    def checked_in_number(self, code: str) -> str | None:
        """The ticket number appointment ``code`` checked in with, or None."""
        number = self._scalar(
            "SELECT t.number FROM appointment_checkins c JOIN queue_tickets t "
            "ON t.id = c.ticket_id WHERE c.code = ?", (code,))
        return None if number is None else str(number)

    @staticmethod
    def issue_ticket(row: dict[str, Any], ids: list[int]) -> Writer:
        """A writer inserting ticket ``row`` (day, number, service, grp, priority,
        appointment, issued_ts, and optionally replaces) and, for an appointment, its
        check-in; the new id is appended to ``ids``."""

        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "INSERT INTO queue_tickets (day, number, service, grp, priority, "
                "appointment, issued_ts, replaces) VALUES (:day, :number, :service, :grp, "
                ":priority, :appointment, :issued_ts, :replaces)", {"replaces": "", **row})
            ids.append(int(cur.lastrowid or 0))
            if row["appointment"]:
                conn.execute("INSERT INTO appointment_checkins (code, ticket_id, ts) "
                             "VALUES (?, ?, ?)", (row["appointment"], ids[-1], row["issued_ts"]))

        return write

    @staticmethod
    def queue_intake(row: dict[str, Any]) -> Writer:
        """A writer inserting the ticket that hands an intake on (day, number, service,
        priority, issued_ts, intake: its case number)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO queue_tickets (day, number, service, priority, issued_ts, "
                "intake) VALUES (:day, :number, :service, :priority, :issued_ts, :intake)",
                row)

        return write

    @staticmethod
    def bring_ticket(row: dict[str, Any]) -> Writer:
        """A writer inserting ticket ``row`` (day, number, service, issued_ts, called_ts)
        of another device's block, called here (migration 0015's ``brought``)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO queue_tickets (day, number, service, grp, priority, appointment, "
                "issued_ts, called_ts, brought) VALUES (:day, :number, :service, '', 0, '', "
                ":issued_ts, :called_ts, 1)", row)

        return write

    @staticmethod
    def mark_called(ticket_id: int, ts: float) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE queue_tickets SET called_ts = ? WHERE id = ?", (ts, ticket_id))

        return write

    # The queue controls (device/ticket_ops.py): each writer commits with its event.

    @staticmethod
    def count_recall(ticket_id: int) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE queue_tickets SET recalls = recalls + 1 WHERE id = ?",
                         (ticket_id,))

        return write

    @staticmethod
    def requeue(ticket_id: int, priority: int, place: float | None, *,
                service: str | None = None, no_show: bool = False) -> Writer:
        """Back to waiting (a no-show, or a called ticket moved to another service), at
        ``priority`` and ``place`` (None: its id)."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE queue_tickets SET called_ts = NULL, priority = ?, place = ?, "
                "service = COALESCE(?, service), no_shows = no_shows + ? WHERE id = ?",
                (priority, place, service, int(no_show), ticket_id))

        return write

    @staticmethod
    def leave_queue(ticket_id: int, gone: str, *, no_show: bool = False) -> Writer:
        """Out of this counter's queue for the day, unserved: ``gone`` says why."""

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE queue_tickets SET gone = ?, no_shows = no_shows + ? "
                         "WHERE id = ?", (gone, int(no_show), ticket_id))

        return write

    @staticmethod
    def change_service(ticket_id: int, service: str) -> Writer:
        def write(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE queue_tickets SET service = ? WHERE id = ?",
                         (service, ticket_id))

        return write

    # A station's fallback block (drivers/station/book.py, docs/station.md "When the
    # station is away"): what this device issued and called on its own, until reconciled.

    def unreconciled_tickets(self) -> list[dict[str, Any]]:
        """Every ticket of this device's own block not yet taken by the station, in the
        order issued, with its day."""
        return self._dicts(f"SELECT day, {_COLUMNS} FROM queue_tickets "
                           "WHERE reconciled_ts IS NULL AND intake = '' ORDER BY id")

    @staticmethod
    def mark_reconciled(ticket_ids: list[int], ts: float) -> Writer:
        """The station took these tickets: never sent again, and one still waiting here
        is the station's to call now (gone 'station')."""

        def write(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE queue_tickets SET reconciled_ts = ?, gone = CASE WHEN "
                "called_ts IS NULL AND gone = '' THEN 'station' ELSE gone END WHERE id = ?",
                [(ts, i) for i in ticket_ids])

        return write
