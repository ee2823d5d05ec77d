"""The HQ database connection and its schema, with numbered migrations.

SQLite by default; PostgreSQL for a city with the same code. The SQL is the common
subset of both (``ON CONFLICT ... DO NOTHING/UPDATE``, TEXT/BIGINT, no auto-increment);
:class:`HqDb` only rewrites placeholders for the driver's paramstyle.

The schema's version is kept in ``hq_meta``. A database made before versions existed
(the first schema: counters keyed by device id alone) is version 1; each step in
``MIGRATIONS`` brings it one version up, in the same transaction as the version bump.
Step 2 keys every table by (site, device): ids are unique only within a site.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from device.errors import SyncError
from device.events import GENESIS

# pg_advisory_xact_lock keys (any constants unique to this schema).
LOCK_SCHEMA = 0x6B696F736B01
LOCK_CHAIN = 0x6B696F736B02

_DEVICES = """CREATE TABLE hq_devices (
        site          TEXT NOT NULL,
        device        TEXT NOT NULL,
        head_seq      BIGINT NOT NULL DEFAULT 0,
        head_hash     TEXT NOT NULL,
        problems      BIGINT NOT NULL DEFAULT 0,
        state         TEXT,
        health        TEXT,
        last_seen     TEXT,
        PRIMARY KEY (site, device)
    )"""
# A problem is one rejected event: kept with its body, never in hq_events.
_PROBLEMS = """CREATE TABLE hq_problems (
        site        TEXT NOT NULL,
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        kind        TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        detail      TEXT NOT NULL,
        body        TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        PRIMARY KEY (site, device, seq, kind, event_id)
    )"""

# Version 1, as it was first shipped (kept verbatim: a database of that age is migrated).
SCHEMA_V1 = [
    """CREATE TABLE IF NOT EXISTS hq_events (
        id          TEXT PRIMARY KEY,
        site        TEXT NOT NULL,
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        ts          TEXT NOT NULL,
        type        TEXT NOT NULL,
        body        TEXT NOT NULL,
        replayed    INTEGER NOT NULL DEFAULT 0,
        received_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS hq_events_device_seq ON hq_events (device, seq)",
    "CREATE INDEX IF NOT EXISTS hq_events_type_ts ON hq_events (type, ts)",
    """CREATE TABLE IF NOT EXISTS hq_devices (
        device     TEXT PRIMARY KEY,
        site       TEXT NOT NULL,
        head_seq   BIGINT NOT NULL DEFAULT 0,
        head_hash  TEXT NOT NULL,
        problems   BIGINT NOT NULL DEFAULT 0,
        state      TEXT,
        health     TEXT,
        last_seen  TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS hq_problems (
        device      TEXT NOT NULL,
        seq         BIGINT NOT NULL,
        kind        TEXT NOT NULL,
        detail      TEXT NOT NULL,
        detected_at TEXT NOT NULL,
        PRIMARY KEY (device, seq, kind)
    )""",
    """CREATE TABLE IF NOT EXISTS work_orders (
        id         TEXT PRIMARY KEY,
        site       TEXT NOT NULL,
        device     TEXT NOT NULL,
        officer    TEXT NOT NULL,
        case_no    TEXT NOT NULL,
        service    TEXT NOT NULL,
        level      TEXT NOT NULL,
        event_ts   TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status     TEXT NOT NULL DEFAULT 'open'
    )""",
    "CREATE INDEX IF NOT EXISTS work_orders_officer ON work_orders (officer, event_ts)",
]

# Version n+1 = MIGRATIONS[n-1] applied to version n. Never edit a shipped step: add one.
MIGRATIONS: list[list[str]] = [
    [  # 1 -> 2: (site, device) identity; verified and simulated flags; quarantine.
        "ALTER TABLE hq_events ADD COLUMN verified INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE hq_events ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",
        "DROP INDEX hq_events_device_seq",
        "CREATE INDEX hq_events_site_device_seq ON hq_events (site, device, seq)",
        "CREATE TABLE hq_devices_v1 AS SELECT * FROM hq_devices",
        "DROP TABLE hq_devices",
        _DEVICES,
        # Heads start again at the genesis: the store re-walks every chain after this.
        f"INSERT INTO hq_devices (site, device, head_seq, head_hash, problems, state, "
        f"health, last_seen) SELECT site, device, 0, '{GENESIS}', 0, state, health, "
        f"last_seen FROM hq_devices_v1",
        "DROP TABLE hq_devices_v1",
        "DROP TABLE hq_problems",
        _PROBLEMS,
        "ALTER TABLE work_orders ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE hq_quarantine (
            id          TEXT PRIMARY KEY,
            site        TEXT NOT NULL,
            device      TEXT NOT NULL,
            topic       TEXT NOT NULL,
            reason      TEXT NOT NULL,
            size        BIGINT NOT NULL,
            head        TEXT NOT NULL,
            received_at TEXT NOT NULL
        )""",
        "CREATE INDEX hq_quarantine_device ON hq_quarantine (site, device)",
    ],
]
SCHEMA_VERSION = 1 + len(MIGRATIONS)


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HqDb:
    """A thin DB-API wrapper: one connection, placeholders written ``?`` everywhere."""

    def __init__(self, conn: Any, paramstyle: str) -> None:
        self.conn = conn
        self.paramstyle = paramstyle
        self.kind = "sqlite" if isinstance(conn, sqlite3.Connection) else "postgresql"

    @classmethod
    def open(cls, url: str) -> HqDb:
        """``sqlite:///path``, a plain path, or ``postgresql://user@host/db`` (psycopg)."""
        if url.startswith(("postgresql://", "postgres://")):
            try:
                import psycopg
            except ImportError:
                raise SyncError("PostgreSQL needs the psycopg package. Fix: pip install "
                                "'psycopg[binary]' on the HQ host, or use a SQLite path.") from None
            try:
                pg = psycopg.connect(url, autocommit=True)
            except psycopg.Error as exc:
                raise SyncError(f"cannot connect to the HQ database {redact_url(url)}: "
                                f"{str(exc).strip()}. Fix: check the URL, that the server "
                                "runs and that the database exists (createdb).") from None
            return cls(pg, "pyformat")
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        conn = sqlite3.connect(path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the collector acknowledges a message only after its commit, and the device
        # then forgets it; a power cut at HQ must not lose it either. One fsync per batch.
        conn.execute("PRAGMA synchronous=FULL")
        return cls(conn, sqlite3.paramstyle)

    def q(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.paramstyle in ("format", "pyformat") else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.conn.cursor()
        cur.execute(self.q(sql), tuple(params))
        return cur

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        cur = self.conn.cursor()
        cur.executemany(self.q(sql), [tuple(r) for r in rows])

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        row = self.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE" if self.kind == "sqlite" else "BEGIN")

    def lock(self, key: int) -> None:
        """Serialise writers for the rest of the transaction (SQLite: BEGIN IMMEDIATE did)."""
        if self.kind == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    # ------------------------------------------------------------------ schema

    def _has_table(self, name: str) -> bool:
        if self.kind == "sqlite":
            sql = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            sql = "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?"
        return self.one(sql, (name,)) is not None

    def _version(self) -> int:
        if self._has_table("hq_meta"):
            row = self.one("SELECT value FROM hq_meta WHERE key = 'schema_version'")
            return int(row[0]) if row else 1
        return 1 if self._has_table("hq_events") else 0

    def migrate(self) -> int:
        """Bring the schema to SCHEMA_VERSION; returns the version it was at (0: new).
        A current schema is only read: `status`, reports and every reader open the
        database without taking the write lock."""
        found = self._version()
        if self.kind == "sqlite":
            self.conn.rollback()  # end the read before BEGIN (sqlite3's implicit one)
        if found == SCHEMA_VERSION:
            return found
        self.begin()
        try:
            self.lock(LOCK_SCHEMA)  # collectors starting together would race
            found = self._version()  # again, under the lock
            if not self._has_table("hq_meta"):
                self.execute("CREATE TABLE hq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            if found == 0:
                for stmt in SCHEMA_V1:
                    self.execute(stmt)
            if found > SCHEMA_VERSION:
                raise SyncError(f"the HQ database has schema version {found}, newer than "
                                f"this kiosk-hq ({SCHEMA_VERSION}). Fix: upgrade kiosk-hq.")
            for step in MIGRATIONS[max(0, found - 1):]:
                for stmt in step:
                    self.execute(stmt)
            self.execute("INSERT INTO hq_meta (key, value) VALUES ('schema_version', ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                         (str(SCHEMA_VERSION),))
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return found
