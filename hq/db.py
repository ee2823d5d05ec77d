"""The HQ database: a Django connection with the SQL helpers the store and reports use.

One schema for SQLite and PostgreSQL, defined by the Django models of ``hq.fleet`` and
``hq.workorders`` and created by their migrations. The store's hot paths (the ingest
batch, the chain walk, the report's aggregates) stay plain SQL in the common subset of
both databases, run on Django's connection: placeholders are written ``?`` here and
handed to Django as ``%s``.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from device.errors import SyncError
from hq import conf, legacy
from hq.conf import redact_url

__all__ = ["HqDb", "now_iso", "redact_url"]

log = logging.getLogger("hq")

# pg_advisory_xact_lock keys (any constants unique to this schema).
LOCK_SCHEMA = 0x6B696F736B01
LOCK_CHAIN = 0x6B696F736B02


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class HqDb:
    """The store's view of one Django connection alias (each thread has its own
    connection to it, as Django keeps them)."""

    def __init__(self, alias: str) -> None:
        from django.db import connections

        self.alias = alias
        self._connections = connections
        self.kind = connections[alias].vendor  # "sqlite" or "postgresql"
        self.migrated_from = 0

    @classmethod
    def open(cls, url: str) -> HqDb:
        """``sqlite:///path``, a plain path, or ``postgresql://user@host/db``; applies
        the migrations the database lacks."""
        try:
            db = cls(conf.alias_for(url))
            db.migrated_from = migrate(db.alias)
        except SyncError:
            raise
        except Exception as exc:
            if type(exc).__module__.startswith(("django.db", "psycopg", "sqlite3")):
                raise SyncError(f"cannot connect to the HQ database {redact_url(url)}: "
                                f"{str(exc).strip()}. Fix: check the URL, that the server "
                                "runs and that the database exists (createdb).") from None
            raise
        return db

    @property
    def conn(self) -> Any:
        return self._connections[self.alias]

    @staticmethod
    def q(sql: str) -> str:
        return sql.replace("?", "%s")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.conn.cursor() as cur:
            cur.execute(self.q(sql), tuple(params))
            return int(cur.rowcount)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        batch = [tuple(r) for r in rows]
        if batch:
            with self.conn.cursor() as cur:
                cur.executemany(self.q(sql), batch)

    def held(self, table: str, key: str, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` ``table`` holds (one query per 500, not one per id; one array
        on PostgreSQL, where building a statement of 500 literals costs more than the
        lookups)."""
        if self.kind == "postgresql":
            return {str(r[0]) for r in self.all(
                f"SELECT {key} FROM {table} WHERE {key} = ANY(?)", [list(ids)])} if ids else set()
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update(str(r[0]) for r in self.all(
                f"SELECT {key} FROM {table} WHERE {key} IN ({', '.join('?' * len(chunk))})",
                chunk))
        return out

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows``, none of whose keys ``table`` holds (the caller checked, under a
        lock every writer takes; IntegrityError otherwise, the whole insert undone).
        PostgreSQL: one COPY (an executemany is a statement per row there: 3-5k rows/s).
        SQLite, in-process: executemany."""
        if not rows:
            return
        names = ", ".join(cols)
        if self.kind != "postgresql":
            self.executemany(f"INSERT INTO {table} ({names}) VALUES "
                             f"({', '.join('?' * len(cols))})", rows)
            return
        # Django's error classes for psycopg's own (a held key: IntegrityError, as from
        # SQLite's executemany).
        with self.conn.wrap_database_errors, self.conn.cursor() as cur, \
                cur.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for r in rows:  # psycopg's own cursor, under Django's, has copy()
                copy.write_row(r)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(self.q(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        with self.conn.cursor() as cur:
            cur.execute(self.q(sql), tuple(params))
            row = cur.fetchone()
        return tuple(row) if row is not None else None

    @contextmanager
    def tx(self) -> Iterator[None]:
        """One transaction (SQLite: BEGIN IMMEDIATE, the write lock taken at once)."""
        from django.db import transaction

        with transaction.atomic(using=self.alias):
            yield

    def lock(self, key: int) -> None:
        """Serialise writers for the rest of the transaction (SQLite: BEGIN IMMEDIATE did)."""
        if self.kind == "postgresql":
            self.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def close(self) -> None:
        self.conn.close()


def _pending(alias: str) -> bool:
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connections[alias])
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


@contextmanager
def _migration_lock(alias: str) -> Iterator[None]:
    """Collectors and the console starting together must not migrate twice at once."""
    from django.db import connections

    conn = connections[alias]
    if conn.vendor == "postgresql":
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (LOCK_SCHEMA,))
        try:
            yield
        finally:
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", (LOCK_SCHEMA,))
        return
    path = Path(conn.settings_dict["NAME"])
    with open(path.with_name(path.name + ".migrate-lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def migrate(alias: str) -> int:
    """Bring the database to the newest migration. Returns what it found: 0 a new
    database, 1 or 2 a pre-Django schema of that version, 3 a Django one. A current
    database is only read (readers never take the write lock)."""
    from django.core.management import call_command
    from django.db import connections

    if not _pending(alias):
        return 3
    with _migration_lock(alias):
        conn = connections[alias]
        tables = set(conn.introspection.table_names())
        found = 3 if "django_migrations" in tables else _legacy_version(alias, tables)
        if found == 1:
            db = HqDb(alias)
            with db.tx():
                for stmt in legacy.MIGRATIONS[0]:
                    db.execute(stmt)
        if found and found < 3:
            log.info("HQ database: taking over the kiosk-hq 0.1 schema (version %d)", found)
        # fake_initial: a 0.1 database already has the initial tables; Django records
        # them as made and applies only what came after.
        call_command("migrate", database=alias, fake_initial=True, verbosity=0,
                     interactive=False)
    return found


def _legacy_version(alias: str, tables: set[str]) -> int:
    if "hq_meta" in tables:
        row = HqDb(alias).one("SELECT value FROM hq_meta WHERE key = 'schema_version'")
        version = int(row[0]) if row else 1
        if version > legacy.LEGACY_VERSION:
            raise SyncError(f"the HQ database has schema version {version}, newer than "
                            "this kiosk-hq knows. Fix: upgrade kiosk-hq.")
        return version
    return 1 if "hq_events" in tables else 0
