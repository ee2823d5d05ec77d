"""The HQ database: every event once, per-device chain state, problems and work orders.

SQLite by default; PostgreSQL for a city with the same code. The SQL below is the
common subset of both (``ON CONFLICT ... DO NOTHING/UPDATE``, TEXT/BIGINT/DOUBLE
PRECISION, no auto-increment); :class:`HqDb` only rewrites placeholders for the driver's
paramstyle. Dedupe is on the event id (QoS 1 is at-least-once; pitfalls).

Transactions are the same on both: explicit, one per ingest batch. On PostgreSQL the
connection is in autocommit mode with an explicit ``BEGIN``, so a read never leaves a
transaction open; several collectors may write at once (shared subscription), so the
chain walk takes a transaction-scoped advisory lock where SQLite's ``BEGIN IMMEDIATE``
already serialises writers: a device's head is never advanced by two batches at once.

The chain check is incremental: each device has a verified head (seq, hash); after each
batch the rows just above it are checked in seq order. A missing seq stops the head
(a gap, reported until the event arrives); a wrong ``prev`` or ``hash`` is recorded as a
problem and the head moves on, so one bad record never hides the rest.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from device.errors import ParseError, SyncError
from device.events import GENESIS, chain_hash

log = logging.getLogger("hq")

SCHEMA = [
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

# pg_advisory_xact_lock keys (any constants unique to this schema).
_LOCK_SCHEMA = 0x6B696F736B01
_LOCK_CHAIN = 0x6B696F736B02

_ENVELOPE_KEYS = {"v", "id", "site", "device", "seq", "ts", "type", "data", "prev", "hash"}


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


@dataclass
class IngestResult:
    new: int = 0
    duplicates: int = 0
    work_orders: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[str, int, str, str]] = field(default_factory=list)


def parse_envelope(ev: Any, site: str, device: str) -> dict[str, Any]:
    """Check one envelope's shape and that it came from the topic's own device."""
    if not isinstance(ev, dict):
        raise ParseError("an event must be a JSON object")
    missing = _ENVELOPE_KEYS - ev.keys()
    if missing:
        raise ParseError("event lacks " + ", ".join(sorted(missing)))
    for key in ("id", "site", "device", "ts", "type", "prev", "hash"):
        if not isinstance(ev[key], str) or len(ev[key]) > 200:
            raise ParseError(f"event field {key!r} must be a short string")
    if isinstance(ev["seq"], bool) or not isinstance(ev["seq"], int) or ev["seq"] < 1:
        raise ParseError("event field 'seq' must be a positive integer")
    if not isinstance(ev["data"], dict):
        raise ParseError("event field 'data' must be an object")
    if ev["site"] != site or ev["device"] != device:
        raise ParseError(f"event of {ev['site']}/{ev['device']} published under "
                         f"{site}/{device}")
    return ev


def parse_events_payload(payload: bytes, site: str, device: str) -> list[dict[str, Any]]:
    """One envelope (JSON object) or a batch (JSON array of envelopes)."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ParseError("events payload is not UTF-8 JSON") from None
    items = doc if isinstance(doc, list) else [doc]
    return [parse_envelope(ev, site, device) for ev in items]


class HqStore:
    def __init__(self, db: HqDb) -> None:
        self.db = db
        if db.kind == "postgresql":
            # Collectors starting together would race on CREATE ... IF NOT EXISTS.
            db.begin()
            db.lock(_LOCK_SCHEMA)
        for stmt in SCHEMA:
            self.db.execute(stmt)
        self.db.commit()

    @classmethod
    def open(cls, url: str) -> HqStore:
        return cls(HqDb.open(url))

    # ------------------------------------------------------------------ ingest

    def ingest(self, events: Sequence[tuple[Mapping[str, Any], bool]]) -> IngestResult:
        """Store (event, replayed) pairs once each, advance chains, open work orders.
        One transaction: when it returns, everything is committed (ack after this)."""
        res = IngestResult()
        received = now_iso()
        db = self.db
        db.begin()
        try:
            devices: dict[str, str] = {}
            fresh: dict[str, dict[int, Mapping[str, Any]]] = {}
            for ev, replayed in events:
                cur = db.execute(
                    "INSERT INTO hq_events (id, site, device, seq, ts, type, body, replayed, "
                    "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO NOTHING",
                    (ev["id"], ev["site"], ev["device"], ev["seq"], ev["ts"], ev["type"],
                     json.dumps(ev, ensure_ascii=False, separators=(",", ":")),
                     int(replayed), received))
                if cur.rowcount != 1:
                    res.duplicates += 1
                    continue
                res.new += 1
                devices[ev["device"]] = ev["site"]
                fresh.setdefault(ev["device"], {})[ev["seq"]] = ev
                data = ev["data"]
                if ev["type"] == "rating.given" and data.get("unsatisfied") is True:
                    wo = {"id": ev["id"], "site": ev["site"], "device": ev["device"],
                          "officer": str(data.get("officer", "")),
                          "case_no": str(data.get("case_no", "")),
                          "service": str(data.get("service", "")),
                          "level": str(data.get("level", "")), "event_ts": ev["ts"]}
                    db.execute(
                        "INSERT INTO work_orders (id, site, device, officer, case_no, service, "
                        "level, event_ts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (id) DO NOTHING",
                        (*wo.values(), received))
                    res.work_orders.append(wo)
            if devices:
                db.lock(_LOCK_CHAIN)
            for device, site in devices.items():
                res.problems.extend(self._advance(device, site, received, fresh[device]))
        except BaseException:
            db.rollback()
            raise
        db.commit()
        for wo in res.work_orders:
            log.warning("work order %s: %s rating by case %s of officer %s at %s/%s",
                        wo["id"], wo["level"], wo["case_no"], wo["officer"], wo["site"],
                        wo["device"])
        for device, seq, kind, detail in res.problems:
            log.error("chain problem on %s seq %d (%s): %s", device, seq, kind, detail)
        return res

    def _advance(self, device: str, site: str, now: str,
                 fresh: Mapping[int, Mapping[str, Any]]) -> list[tuple[str, int, str, str]]:
        db = self.db
        row = db.one("SELECT head_seq, head_hash FROM hq_devices WHERE device = ?", (device,))
        if row is None:
            db.execute("INSERT INTO hq_devices (device, site, head_seq, head_hash, last_seen) "
                       "VALUES (?, ?, 0, ?, ?) ON CONFLICT (device) DO NOTHING",
                       (device, site, GENESIS, now))
            head_seq, head_hash = 0, GENESIS
        else:
            head_seq, head_hash = int(row[0]), str(row[1])
        problems: list[tuple[str, int, str, str]] = []
        start = head_seq
        while True:
            # Bodies only for events not just parsed in this batch (out-of-order arrivals).
            rows = db.all("SELECT seq, id, CASE WHEN seq BETWEEN ? AND ? THEN NULL ELSE body "
                          "END FROM hq_events WHERE device = ? AND seq > ? ORDER BY seq "
                          "LIMIT 5000", (min(fresh, default=0), max(fresh, default=-1),
                                         device, head_seq))
            if not rows:
                break
            moved = False
            for seq, eid, body in rows:
                seq = int(seq)
                if seq == head_seq and moved:
                    problems.append((device, seq, "fork",
                                     f"two different events with seq {seq} (id {eid})"))
                    continue
                if seq != head_seq + 1:
                    break
                ev = fresh.get(seq) if body is None else None
                if ev is None or ev["id"] != eid:
                    if body is None:
                        body = (db.one("SELECT body FROM hq_events WHERE id = ?", (eid,))
                                or ("{}",))[0]
                    ev = json.loads(body)
                if ev["prev"] != head_hash:
                    problems.append((device, seq, "chain",
                                     f"prev does not match the hash of seq {seq - 1}"))
                if chain_hash(ev["prev"], ev) != ev["hash"]:
                    problems.append((device, seq, "altered",
                                     "hash does not match the event's content"))
                head_seq, head_hash = seq, ev["hash"]
                moved = True
            if not moved or len(rows) < 5000:
                break
        for p in problems:
            db.execute("INSERT INTO hq_problems (device, seq, kind, detail, detected_at) "
                       "VALUES (?, ?, ?, ?, ?) ON CONFLICT (device, seq, kind) DO NOTHING",
                       (*p, now))
        if head_seq != start or problems:
            db.execute("UPDATE hq_devices SET head_seq = ?, head_hash = ?, "
                       "problems = problems + ?, last_seen = ? WHERE device = ?",
                       (head_seq, head_hash, len(problems), now, device))
        return problems

    def set_status(self, device: str, site: str, leaf: str, doc: Mapping[str, Any]) -> None:
        """Latest retained state or health of a device (for the dashboard and reports)."""
        col = "state" if leaf == "state" else "health"
        body = json.dumps(doc, ensure_ascii=False)
        self.db.begin()
        self.db.execute(
            f"INSERT INTO hq_devices (device, site, head_seq, head_hash, {col}, last_seen) "
            f"VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET {col} = "
            f"excluded.{col}, last_seen = excluded.last_seen",
            (device, site, GENESIS, body, now_iso()))
        self.db.commit()

    # ------------------------------------------------------------------ reading

    def integrity(self) -> list[dict[str, Any]]:
        """Per device: events held, verified head, gaps (missing seq ranges), problems."""
        out = []
        for device, site, head, nprob in self.db.all(
                "SELECT device, site, head_seq, problems FROM hq_devices ORDER BY device"):
            count, top, lowest = self.db.one(
                "SELECT count(*), coalesce(max(seq), 0), coalesce(min(seq), 1) FROM hq_events "
                "WHERE device = ?", (device,)) or (0, 0, 1)
            # Cheap when complete (the usual case): seq 1..max all present, no walk needed.
            complete = int(count) == int(top) and int(lowest) == 1
            gaps = [] if complete else self.gaps(device, 0)
            out.append({"device": device, "site": site, "events": int(count),
                        "verified_seq": int(head), "max_seq": int(top), "gaps": gaps,
                        "problems": int(nprob)})
        return out

    def gaps(self, device: str, after: int = 0) -> list[tuple[int, int]]:
        seqs = [int(r[0]) for r in self.db.all(
            "SELECT DISTINCT seq FROM hq_events WHERE device = ? AND seq > ? ORDER BY seq",
            (device, after))]
        out, expect = [], after + 1
        for s in seqs:
            if s > expect:
                out.append((expect, s - 1))
            expect = s + 1
        return out

    def device_head_seq(self, device: str) -> int | None:
        """The device's own last seq, as its latest health message reported it."""
        row = self.db.one("SELECT health FROM hq_devices WHERE device = ?", (device,))
        if not row or not row[0]:
            return None
        try:
            doc = json.loads(row[0])
        except json.JSONDecodeError:
            return None
        head = doc.get("head_seq") if isinstance(doc, dict) else None
        depth = doc.get("outbox_depth")
        # Only a settled device: while its outbox drains, the tail is simply on its way.
        if isinstance(head, int) and depth == 0:
            return head
        return None

    def problems(self, device: str | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT device, seq, kind, detail FROM hq_problems"
        params: tuple[Any, ...] = ()
        if device:
            sql += " WHERE device = ?"
            params = (device,)
        return self.db.all(sql + " ORDER BY device, seq", params)

    def count(self, device: str | None = None) -> int:
        if device:
            row = self.db.one("SELECT count(*) FROM hq_events WHERE device = ?", (device,))
        else:
            row = self.db.one("SELECT count(*) FROM hq_events")
        return int(row[0]) if row else 0

    def work_orders(self) -> list[tuple[Any, ...]]:
        return self.db.all("SELECT id, device, officer, case_no, service, level, event_ts, "
                           "status FROM work_orders ORDER BY event_ts")

    def close(self) -> None:
        self.db.close()
