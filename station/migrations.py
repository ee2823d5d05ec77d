"""station.db's own tables, applied after device.store's (the journal the station's
kiosk-sync uplinks). Same rules as device/migrations.py: numbered, each once, each in one
``BEGIN IMMEDIATE`` transaction, recorded in ``schema_migrations``, never edited after it
shipped. The names start with ``station_`` so they never meet the counter's."""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[tuple[str, list[str]]] = [
    ("station_0001_queue", [
        # One row a ticket of the day. status: waiting, called (being served at
        # ``window``), done, no_show (dropped), transferred (handed on, see to_window),
        # void (issued for a request whose device gave up on the answer, reconcile.py).
        # to_window: a ticket transferred to one window waits for that window only.
        # place orders a requeued ticket among its priority (NULL: issued_ts).
        """CREATE TABLE station_tickets (
            id          INTEGER PRIMARY KEY,
            day         TEXT NOT NULL,
            number      TEXT NOT NULL,
            service     TEXT NOT NULL,
            priority    INTEGER NOT NULL DEFAULT 0,
            appointment TEXT NOT NULL DEFAULT '',
            issued_ts   REAL NOT NULL,
            issued_by   TEXT NOT NULL,
            status      TEXT NOT NULL DEFAULT 'waiting',
            window      INTEGER NOT NULL DEFAULT 0,
            to_window   INTEGER NOT NULL DEFAULT 0,
            called_ts   REAL,
            done_ts     REAL,
            no_shows    INTEGER NOT NULL DEFAULT 0,
            recalls     INTEGER NOT NULL DEFAULT 0,
            place       REAL,
            UNIQUE (day, number)
        )""",
        "CREATE INDEX station_waiting ON station_tickets(day, status)",
        # The day count of each prefix: the next number is count + 1, whatever was
        # deleted, reconciled or transferred; never issued twice in a day.
        """CREATE TABLE station_numbering (
            day    TEXT NOT NULL,
            prefix TEXT NOT NULL,
            count  INTEGER NOT NULL,
            PRIMARY KEY (day, prefix)
        )""",
        # Windows' away state (B-post routing): away since ``since`` (0 when present),
        # ``backup`` takes its tickets; ``alerted`` once HQ heard it was away too long.
        """CREATE TABLE station_windows (
            number  INTEGER PRIMARY KEY,
            away    INTEGER NOT NULL DEFAULT 0,
            backup  INTEGER NOT NULL DEFAULT 0,
            since   REAL NOT NULL DEFAULT 0,
            alerted INTEGER NOT NULL DEFAULT 0
        )""",
        # Exactly once: a request's response, stored in the transaction of its change.
        """CREATE TABLE station_requests (
            rid      TEXT PRIMARY KEY,
            day      TEXT NOT NULL,
            device   TEXT NOT NULL,
            op       TEXT NOT NULL,
            response TEXT NOT NULL,
            ts       REAL NOT NULL
        )""",
        "CREATE INDEX station_requests_day ON station_requests(day)",
        # Measured service times: a moving average per service and window.
        """CREATE TABLE station_service_times (
            service TEXT NOT NULL,
            window  INTEGER NOT NULL,
            avg_s   REAL NOT NULL,
            n       INTEGER NOT NULL,
            PRIMARY KEY (service, window)
        )""",
        # version: the board's, bumped with every change; crowded_day: the day HQ last
        # heard station.crowded (once a day is enough for the chief).
        "CREATE TABLE station_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ]),
]


def apply(conn: sqlite3.Connection, now_iso: str) -> list[str]:
    """Apply every station migration not yet applied (``schema_migrations`` exists: the
    device store made it); returns the names applied now."""
    done: list[str] = []
    for name, statements in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if not conn.execute("SELECT 1 FROM schema_migrations WHERE name = ?",
                                (name,)).fetchone():
                for sql in statements:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (name, now_iso))
                done.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return done
