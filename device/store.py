"""The SQLite store: journal + outbox, counter state, print queue, site content.

One file, WAL mode, ``synchronous=FULL`` (a commit survives power loss once it returns),
on our own connection. The kiosk process is the only writer of events; the sync process
opens the same file with its own connection to read the outbox and mark rows sent.
``PRAGMA data_version`` tells either side the other wrote.

sqlite-utils wraps that connection (``Store.db``) for the reads that want named columns
(``db.query`` yields dicts) and counts (``db[table].count_where``); writes stay plain
sqlite3 inside :meth:`Store.transaction`, since their ``BEGIN IMMEDIATE`` and the
events' chain are the durability rule below, which sqlite-utils' own commits would not
keep. Schema changes are the numbered migrations in device/migrations.py.

Durability rule: :meth:`Store.append` returns only after the transaction committed, and
the counter gives no feedback (LED, sound, screen) before it returns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from device.codes import Fault
from device.errors import StoreError
from device.events import CRITICAL_TYPES, GENESIS, Draft, Envelope, EventType, seal
from device.migrations import MIGRATIONS
from device.printjobs import PrintQueue
from device.shedding import Shedding
from device.store_content import ContentRecords
from device.store_journal import JournalReads
from device.store_queue import QueueRecords
from device.store_sync import SyncRecords
from device.store_types import Writer

log = logging.getLogger("store")

__all__ = ["OpenReport", "Store", "StoreError", "Writer", "connect", "migrate"]



@dataclass(frozen=True)
class OpenReport:
    """What happened when the store was opened (for the device.fault event)."""

    corrupt_moved_to: Path | None = None
    salvaged_events: int = 0
    reason: str = ""


def connect(path: Path, *, timeout: float = 10.0) -> sqlite3.Connection:
    """A connection with the project's pragmas. Access must be serialised by the caller."""
    conn = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=False
    )
    # Only takes effect in a new, empty file (before its first table): lets shedding give
    # pages back in small steps instead of a VACUUM that rewrites the file under a lock.
    conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
    return conn


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied; returns the names applied now."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ts TEXT)"
    )
    applied_now: list[str] = []
    for name, sql in MIGRATIONS:
        # BEGIN IMMEDIATE takes the write lock first, so two processes starting at once
        # cannot both apply the same migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE name = ?", (name,)
            ).fetchone()
            if not done:
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)", (name, _now_iso())
                )
                applied_now.append(name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return applied_now


def _split_sql(script: str) -> list[str]:
    # executescript() would COMMIT our transaction; split on statement ends instead.
    parts, buf = [], []
    for line in script.splitlines():
        stripped = line.split("--", 1)[0]
        buf.append(stripped)
        if stripped.rstrip().endswith(";"):
            stmt = "\n".join(buf).strip()
            if stmt.strip(";").strip():
                parts.append(stmt)
            buf = []
    tail = "\n".join(buf).strip()
    if tail:
        parts.append(tail)
    return parts


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Store(QueueRecords, ContentRecords, PrintQueue, JournalReads, SyncRecords, Shedding):
    """The kiosk's store. Thread-safe: every call holds one lock around the connection.

    Its methods are the only SQL on kiosk.db: this module has the journal and the
    counter state; one mixin a table group has the rest (device/store_*.py,
    device/printjobs.py, device/shedding.py). :meth:`query` is for tests and tools that
    look at the file; no module of the program calls it."""

    def __init__(self, path: Path, *, site: str, device: str,
                 check_integrity: bool = True) -> None:
        """``check_integrity=False`` is for the second process (kiosk-sync): checking
        and moving a corrupt file aside is the kiosk's job at start-up, and a second
        process must never move the file from under it."""
        self.path = Path(path)
        self.site = site
        self.device = device
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._salvage = _Salvage()
        self.open_report = self._check_or_move_aside() if check_integrity else OpenReport()
        try:
            self.conn = connect(self.path)
            migrate(self.conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open {self.path}: {exc}. Fix: start the kiosk service first (it "
                "checks the file at start-up and moves a damaged one aside)") from exc
        self.db = sqlite_utils.Database(self.conn)
        if self.open_report.corrupt_moved_to is not None:
            self._record_corruption()

    # ------------------------------------------------------------------ integrity

    def _check_or_move_aside(self) -> OpenReport:
        if not self.path.exists():
            return OpenReport()
        reason = ""
        try:
            conn = sqlite3.connect(str(self.path), timeout=10.0)
            try:
                rows = conn.execute("PRAGMA quick_check").fetchall()
            finally:
                conn.close()
            if rows != [("ok",)]:
                reason = "; ".join(str(r[0]) for r in rows[:5])
        except sqlite3.DatabaseError as exc:
            reason = str(exc)
        if not reason:
            return OpenReport()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        moved = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        salvage = _salvage(self.path)
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.path) + suffix)
            if src.exists():
                shutil.move(str(src), str(moved) + suffix)
        log.error("database %s failed its integrity check (%s); kept as %s, starting a "
                  "fresh one", self.path, reason, moved)
        self._salvage = salvage
        return OpenReport(corrupt_moved_to=moved, salvaged_events=len(salvage.unsent),
                          reason=reason)

    def _record_corruption(self) -> None:
        last_seq, last_hash = self._salvage.last_seq, self._salvage.last_hash
        unsent = self._salvage.unsent
        with self.transaction() as conn:
            if last_seq:
                # Continue the chain where it was, so HQ sees no reset.
                self._set_head(conn, last_seq, last_hash)
            for body in unsent:
                ev = json.loads(body)
                if int(ev["seq"]) > last_seq:
                    continue
                conn.execute(
                    "INSERT OR IGNORE INTO events (seq, id, type, ts, critical, body) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (ev["seq"], ev["id"], ev["type"], ev["ts"],
                     int(ev["type"] in CRITICAL_TYPES), body),
                )
            if self._salvage.state is not None:
                # The counter resumes (an open case, the away board) and keeps numbering
                # its own cases where it was, so no case number is issued twice.
                conn.execute("INSERT INTO counter_state (id, body) VALUES (1, ?)",
                             (self._salvage.state,))
        report = self.open_report
        self.append([Draft(EventType.DEVICE_FAULT, {
            "component": "store", "fault": Fault.INTEGRITY_CHECK_FAILED,
            "detail": report.reason[:200],
            "moved_to": report.corrupt_moved_to.name if report.corrupt_moved_to else "",
            "salvaged_unsent": report.salvaged_events,
        })])

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def head(self) -> tuple[int, str]:
        with self._lock:
            return self._head(self.conn)

    @staticmethod
    def _head(conn: sqlite3.Connection) -> tuple[int, str]:
        row = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
        if row is None:
            return 0, GENESIS
        seq, digest = row[0].split(":", 1)
        return int(seq), digest

    @staticmethod
    def _set_head(conn: sqlite3.Connection, seq: int, digest: str) -> None:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('chain_head', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (f"{seq}:{digest}",),
        )

    def append(
        self,
        drafts: Sequence[Draft],
        *,
        state: Mapping[str, Any] | None = None,
        also: Sequence[Writer] = (),
    ) -> list[Envelope]:
        """Seal and commit ``drafts`` (and the counter ``state``, and ``also`` writers)
        in one transaction. Returns only after COMMIT: the events are durable then."""
        try:
            with self.transaction() as conn:
                seq, prev = self._head(conn)
                sealed: list[Envelope] = []
                for draft in drafts:
                    seq += 1
                    env = seal(draft, site=self.site, device=self.device, seq=seq, prev=prev)
                    conn.execute(
                        "INSERT INTO events (seq, id, type, ts, critical, body) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        (env.seq, env.id, env.type, env.ts,
                         int(draft.type in CRITICAL_TYPES), env.to_json()),
                    )
                    prev = env.hash
                    sealed.append(env)
                if sealed:
                    self._set_head(conn, seq, prev)
                if state is not None:
                    conn.execute(
                        "INSERT INTO counter_state (id, body) VALUES (1, ?) "
                        "ON CONFLICT(id) DO UPDATE SET body = excluded.body",
                        (json.dumps(state, ensure_ascii=False),),
                    )
                for write in also:
                    write(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"could not commit to {self.path}: {exc}") from exc
        return sealed

    # ------------------------------------------------------------------ reads

    def load_state(self) -> dict[str, Any] | None:
        with self._lock:
            row = self.conn.execute("SELECT body FROM counter_state WHERE id = 1").fetchone()
        return json.loads(row[0]) if row else None

    def events(self, *, unsent_only: bool = False, after_seq: int = 0,
               limit: int | None = None) -> list[dict[str, Any]]:
        sql = "SELECT body, sent_at FROM events WHERE seq > ?"
        if unsent_only:
            sql += " AND sent_at IS NULL"
        sql += " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self.conn.execute(sql, (after_seq,)).fetchall()
        out = []
        for body, sent_at in rows:
            ev = json.loads(body)
            ev["sent_at"] = sent_at
            out.append(ev)
        return out

    def integrity_ok(self) -> bool:
        with self._lock:
            return self.conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """A read on the kiosk's connection (queue, catalogue, ratings), under its lock."""
        with self._lock:
            return [tuple(r) for r in self.conn.execute(sql, tuple(params)).fetchall()]

    def data_version(self) -> int:
        with self._lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def size_bytes(self) -> int:
        return sum(
            Path(str(self.path) + s).stat().st_size
            for s in ("", "-wal")
            if Path(str(self.path) + s).exists()
        )

    def close(self) -> None:
        with self._lock:
            self.conn.close()


@dataclass
class _Salvage:
    last_seq: int = 0
    last_hash: str = GENESIS
    unsent: list[str] = field(default_factory=list)
    state: str | None = None  # the counter_state body


def _salvage(path: Path) -> _Salvage:
    """Best effort: read the chain head, the unsent events and the counter state out of a
    corrupt file. Each part on its own: a damaged page loses only what is on it."""
    out = _Salvage()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return out
    try:
        with contextlib.suppress(sqlite3.Error, ValueError):
            row = conn.execute("SELECT value FROM meta WHERE key = 'chain_head'").fetchone()
            if row:
                s, h = row[0].split(":", 1)
                out.last_seq, out.last_hash = int(s), h
        if not out.last_seq:
            # No readable head: the newest event is the head (sent or not).
            with contextlib.suppress(sqlite3.Error, ValueError, KeyError):
                row = conn.execute(
                    "SELECT body FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                if row:
                    ev = json.loads(row[0])
                    out.last_seq, out.last_hash = int(ev["seq"]), str(ev["hash"])
        with contextlib.suppress(sqlite3.Error):  # keeps the rows read before a bad page
            for (body,) in conn.execute(
                    "SELECT body FROM events WHERE sent_at IS NULL ORDER BY seq"):
                out.unsent.append(body)
        with contextlib.suppress(sqlite3.Error, ValueError):
            row = conn.execute("SELECT body FROM counter_state WHERE id = 1").fetchone()
            if row and isinstance(json.loads(row[0]), dict):
                out.state = row[0]
    finally:
        conn.close()
    return out
