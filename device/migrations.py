"""Versioned schema migrations, applied in order, each once, each in one transaction.

Applied migrations are recorded by name in ``schema_migrations``; a migration is never
edited after it has shipped: add a new one instead. Names sort in the order they apply.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        -- The journal and the outbox in one: sent_at NULL means not yet acknowledged by
        -- the broker. Rows are pruned only after they were sent and retention passed.
        CREATE TABLE events (
            seq      INTEGER PRIMARY KEY,
            id       TEXT NOT NULL UNIQUE,
            type     TEXT NOT NULL,
            ts       TEXT NOT NULL,
            critical INTEGER NOT NULL,
            body     TEXT NOT NULL,
            sent_at  TEXT
        );
        CREATE INDEX events_unsent ON events(seq) WHERE sent_at IS NULL;
        -- One row: the counter's state, written in the same transaction as its events,
        -- so a restart resumes exactly where the last commit left it.
        CREATE TABLE counter_state (
            id   INTEGER PRIMARY KEY CHECK (id = 1),
            body TEXT NOT NULL
        );
        """,
    ),
    (
        "0002_print_jobs",
        """
        -- Durable print queue: a job is written with the event that asked for it and
        -- marked printed only after the printer took all of it (never lost, never twice).
        CREATE TABLE print_jobs (
            id         INTEGER PRIMARY KEY,
            kind       TEXT NOT NULL,
            body       TEXT NOT NULL,
            created_ts TEXT NOT NULL,
            printed_ts TEXT,
            attempts   INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE INDEX print_jobs_pending ON print_jobs(id) WHERE printed_ts IS NULL;
        """,
    ),
    (
        "0003_site_content",
        """
        -- Site content from HQ (catalogue, roster, appointments, notices): one versioned
        -- document per kind, replaced atomically by the sync process.
        CREATE TABLE site_content (
            kind       TEXT PRIMARY KEY,
            version    TEXT NOT NULL,
            body       TEXT NOT NULL,
            updated_ts TEXT NOT NULL
        );
        """,
    ),
    (
        "0010_queue",
        """
        -- Queue tickets of this counter, numbered per local day (A001, A002, ...).
        -- priority: 0 normal, 1 appointment, 2 green channel; called in priority order,
        -- then in the order issued. A ticket is written with its ticket.issued event.
        CREATE TABLE queue_tickets (
            id          INTEGER PRIMARY KEY,
            day         TEXT NOT NULL,
            number      TEXT NOT NULL,
            service     TEXT NOT NULL,
            grp         TEXT NOT NULL DEFAULT '',
            priority    INTEGER NOT NULL DEFAULT 0,
            appointment TEXT NOT NULL DEFAULT '',
            issued_ts   REAL NOT NULL,
            called_ts   REAL,
            UNIQUE (day, number)
        );
        CREATE INDEX queue_waiting ON queue_tickets(day, priority, id) WHERE called_ts IS NULL;
        -- One check-in per appointment code: a second scan gets "already checked in".
        CREATE TABLE appointment_checkins (
            code      TEXT PRIMARY KEY,
            ticket_id INTEGER NOT NULL REFERENCES queue_tickets(id),
            ts        REAL NOT NULL
        );
        """,
    ),
    (
        "0011_queue_controls",
        """
        -- The link's queue controls (recall, no_show, call, transfer). recalls and
        -- no_shows count what happened to a ticket; place orders a requeued ticket among
        -- the waiting ones of its priority (NULL: its id, the order issued); gone says why a
        -- ticket left this counter's queue unserved: 'no_show' (dropped for the day) or
        -- 'window:N' (handed to window N).
        ALTER TABLE queue_tickets ADD COLUMN recalls INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE queue_tickets ADD COLUMN no_shows INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE queue_tickets ADD COLUMN place REAL;
        ALTER TABLE queue_tickets ADD COLUMN gone TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        "0012_intake_handover",
        """
        -- An after-hours intake (户口代办) handed on to the registration queue: a ticket
        -- dated the next working day whose intake column is the intake's case number
        -- ('' for a citizen's ticket). The day's numbering of citizens' tickets counts only
        -- rows without one, so a handed-on intake never shifts A001.
        ALTER TABLE queue_tickets ADD COLUMN intake TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        "0013_station_fallback",
        """
        -- A station's window or entrance stores here the tickets of its own block, issued
        -- while the station did not answer (docs/station.md); reconciled_ts is when the
        -- station took them (reconcile), so each is sent once.
        ALTER TABLE queue_tickets ADD COLUMN reconciled_ts REAL;
        """,
    ),
    (
        "0014_station_replaces",
        """
        -- The rid of the station request a block ticket stands in for: the device gave up
        -- waiting for the station's answer and issued this one instead. If the station did
        -- take that request (its answer was lost), reconcile voids the station's ticket,
        -- which nobody holds ('' for none).
        ALTER TABLE queue_tickets ADD COLUMN replaces TEXT NOT NULL DEFAULT '';
        """,
    ),
    (
        "0015_station_brought",
        """
        -- 1: a ticket this window did not issue (the entrance's block, or the station's
        -- from before it went away), brought to the window by its holder while the station
        -- did not answer and called here by its number. Reconciled as called here, so the
        -- station never calls it again; not counted in this device's own numbering.
        ALTER TABLE queue_tickets ADD COLUMN brought INTEGER NOT NULL DEFAULT 0;
        """,
    ),
]
