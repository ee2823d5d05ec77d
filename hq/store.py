"""The HQ database: every event once, per-counter chain state, problems and work orders.

A counter is (site, device) everywhere: ids are unique only within a site. Dedupe is on
the event id (QoS 1 is at-least-once; pitfalls). Transactions are explicit, one per
ingest batch; several collectors may write at once (shared subscription), so the chain
walk takes a transaction-scoped advisory lock on PostgreSQL where SQLite's ``BEGIN
IMMEDIATE`` already serialises writers: a counter's head never moves twice at once.

The chain walk is what makes an event count. Each counter has a verified head (seq,
hash); after each batch the events just above it are checked in seq order, and only an
event whose ``prev`` is the head's hash and whose ``hash`` matches its content is
*verified*: it moves the head, and only then may it open a work order or a station
alert (hq.alerts) or appear in a report. Anything else is a problem on record that
opens nothing and is taken out of ``hq_events`` (kept in ``hq_problems`` with its
body): a second event for a seq already held (a replay under a new id), a broken or
altered link, a jump far beyond the head.
The head stays where it was, so the genuine event that follows still verifies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError

from device.events import GENESIS, chain_digest, chain_hash, hashed_text
from hq.alerts import opening as alert_opening
from hq.db import LOCK_CHAIN, HqDb, now_iso, redact_url
from hq.facts import doc_facts, facts, station_facts
from hq.store_reads import StoreReads
from hq.workorders import opening
from sync.inbound import events_payload as parse_events_payload

__all__ = ["HqDb", "HqStore", "IngestResult", "Prepared", "parse_events_payload", "prepare",
           "redact_url"]

log = logging.getLogger("hq")

Key = tuple[str, str]  # (site, device)

# An event this far above the verified head is not the counter's next events but a
# forgery (or a broken counter): kept as a problem so it leaves no gap nobody can fill.
MAX_AHEAD = 100_000
# The verified events that open something at ingest: 差评 work orders, station alerts.
_OPENS = frozenset((*opening.OPENS, *alert_opening.OPENS))
_WALK = 5000
# The insert's columns: a prepared row (prepare) and, last, its verified flag.
EVENT_COLUMNS = ("id", "site", "device", "seq", "ts", "type", "body", "replayed",
                 "received_at", "simulated", "level", "officer", "service",
                 "mirror_flags", "seconds", "kind", "case_no", "detail", "on_date",
                 "window_no", "service_s", "verified")


@dataclass
class IngestResult:
    new: int = 0
    duplicates: int = 0
    work_orders: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    # Counters whose verified head moved in this batch, and where it is now.
    confirmed: dict[Key, int] = field(default_factory=dict)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(text) if text else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


@dataclass(frozen=True)
class Prepared:
    """A batch made ready without the database (``prepare``): the events as they came,
    each new id's row but its verified flag, and whether its hash matches its content."""

    events: Sequence[tuple[Mapping[str, Any], bool]]
    rows: Mapping[str, tuple[Any, ...]]
    intact: Mapping[str, bool]
    received: str


def prepare(events: Sequence[tuple[Mapping[str, Any], bool]]) -> Prepared:
    """What ingest needs that takes no database: each event encoded once, its hash
    checked, its row built. A collector does this for the next batch while the database
    writes the last one (psycopg lets go of the GIL while it waits), and none of it is
    done under the lock the other collectors wait on."""
    received = now_iso()
    rows: dict[str, tuple[Any, ...]] = {}
    intact: dict[str, bool] = {}
    for ev, again in events:
        if ev["id"] not in rows:
            hashed = hashed_text(ev)
            rows[ev["id"]] = (ev["id"], ev["site"], ev["device"], ev["seq"], ev["ts"],
                              ev["type"], opening.stored_body(ev, hashed), int(again),
                              received, int(ev["data"].get("simulated") is True),
                              *facts(ev), *doc_facts(ev), *station_facts(ev))
            intact[ev["id"]] = _intact(ev, stored=False, hashed=hashed)
    return Prepared(events, rows, intact, received)


@dataclass(frozen=True)
class Chains:
    """Counters' verified heads and their unverified (seq, id) in the walk window above,
    read once per batch under the lock."""

    heads: Mapping[Key, tuple[int, str]]
    pending: Mapping[Key, list[tuple[int, str]]]


@dataclass
class Walked:
    """What one chain walk decided, by event id."""

    verified: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    opens: list[Mapping[str, Any]] = field(default_factory=list)  # in chain order


def _intact(ev: Mapping[str, Any], *, stored: bool, hashed: str | None = None) -> bool:
    """Whether ``ev``'s hash matches its content (``hashed``: its hashed text, when at
    hand). A stored body without its callback phone (``redacted``, checked whole when it
    came) counts as intact: its hash covered the phone."""
    if stored and ev.get(opening.REDACTED):
        return True
    if hashed is None:
        return bool(chain_hash(ev["prev"], ev) == ev["hash"])
    return bool(chain_digest(ev["prev"], hashed) == ev["hash"])


def _verifies(ev: Mapping[str, Any], head_hash: str, intact: bool) -> str | None:
    """None when ``ev`` is the next link after ``head_hash``; else the problem kind."""
    if ev["prev"] != head_hash:
        return "chain"
    return None if intact else "altered"


class HqStore(StoreReads):
    def __init__(self, db: HqDb) -> None:
        self.db = db
        if db.migrated_from == 1:
            self.reverify()

    @classmethod
    def open(cls, url: str) -> HqStore:
        return cls(HqDb.open(url))

    # ------------------------------------------------------------------ ingest

    def ingest(self, events: Sequence[tuple[Mapping[str, Any], bool]]) -> IngestResult:
        """Store (event, replayed) pairs once each, walk chains, open work orders.
        One transaction: when it returns, everything is committed (ack after this)."""
        return self.write(prepare(events))

    def write(self, batch: Prepared) -> IngestResult:
        """``ingest`` for a batch ``prepare`` made ready.

        A batch costs a handful of statements whatever its size, not a few per counter
        or per event: which ids are held, the heads, the stored events the walk needs,
        one insert of the new rows, one update of the heads. The walk runs before the
        insert, so a new row is written once, already marked verified or not."""
        db = self.db
        with db.tx():
            # Every writer of hq_events holds this lock (several collectors may share the
            # subscription): what is held stays so until the insert below.
            db.lock(LOCK_CHAIN)
            try:
                with db.tx():  # a savepoint: the cheap way, undone if it was wrong
                    res = self._store(batch, lambda chains: self._held_by_chain(
                        chains, batch.events))
            except IntegrityError:
                res = self._store(batch, lambda _chains: db.held("hq_events", "id",
                                                                   list(batch.rows)))
        for wo in res.work_orders:
            log.warning("work order %s: %s rating by case %s of officer %s at %s/%s",
                        wo["id"], wo["level"], wo["case_no"], wo["officer"], wo["site"],
                        wo["device"])
        for al in res.alerts:
            log.warning("station alert %s at %s: %s", al["id"], al["site"], al["text"])
        for site, device, seq, kind, detail in res.problems:
            log.error("chain problem on %s/%s seq %d (%s): %s", site, device, seq, kind,
                      detail)
        return res

    def _store(self, batch: Prepared, held_of: Any) -> IngestResult:
        """The batch under the lock: ``held_of(chains)`` says which of its ids HQ holds.
        The chains of its counters are read once, for that and for the walk."""
        db, res, events, received = self.db, IngestResult(), batch.events, batch.received
        chains = self._chains({(ev["site"], ev["device"]) for ev, _r in events}, received)
        held: set[str] = held_of(chains)
        touched: dict[Key, dict[str, Mapping[str, Any]]] = {}
        resent: set[Key] = set()
        for ev, _again in events:
            key = (ev["site"], ev["device"])
            if ev["id"] in held:
                res.duplicates += 1
                resent.add(key)
                continue
            held.add(ev["id"])  # a second copy in this batch is a duplicate too
            res.new += 1
            touched.setdefault(key, {})[ev["id"]] = ev
        walked = self._advance(touched, received, res, batch.intact, chains)
        db.insert("hq_events", EVENT_COLUMNS, [
            (*batch.rows[eid], int(eid in walked.verified))
            for fresh in touched.values() for eid in fresh if eid not in walked.rejected])
        res.work_orders += opening.on_verified(db, walked.opens, received)
        res.alerts += alert_opening.on_verified(db, walked.opens, received)
        # A counter sending what HQ holds has not seen its confirmation (a broker that
        # lost the retained message): confirm again where the head is.
        for key in resent - res.confirmed.keys():
            if chains.heads[key][0] > 0:  # the head did not move: as read
                res.confirmed[key] = chains.heads[key][0]
        return res

    def _chains(self, keys: Collection[Key], now: str) -> Chains:
        heads = self._heads(list(keys), now)  # a list: _by_key reads a mapping's values
        return Chains(heads, self._pending({k: heads[k][0] for k in keys}))

    def _held_by_chain(self, chains: Chains, events: Sequence[tuple[Mapping[str, Any], bool]]
                       ) -> set[str]:
        """Which ids HQ holds, read from the chains instead of looking every id up: above
        a counter's verified head and within its walk window, HQ holds exactly the
        unverified events the walk reads anyway; only the others (a resend below the
        head, an event far ahead) are looked up. The one case this misses, an id held
        under another counter or seq, fails the insert, and the batch is done again
        with every id looked up (ingest)."""
        held = {eid for found in chains.pending.values() for _s, eid in found}
        heads = chains.heads
        doubt = [str(ev["id"]) for ev, _r in events
                 if not heads[(ev["site"], ev["device"])][0] < ev["seq"]
                 <= heads[(ev["site"], ev["device"])][0] + _WALK]
        return held | self.db.held("hq_events", "id", doubt)

    def _by_key(self, sql: str, keys: Mapping[Key, int] | Collection[Key]
                ) -> list[tuple[Any, ...]]:
        """``sql`` joined to the counters ``keys`` as ``h`` (h.column1 = site, column2 =
        device, column3 = the int ``keys`` maps it to), a few hundred per statement."""
        items = list(keys.items()) if isinstance(keys, Mapping) else [(k, 0) for k in keys]
        out: list[tuple[Any, ...]] = []
        for i in range(0, len(items), 300):
            chunk = items[i:i + 300]
            values = ", ".join(["(?, ?, ?)"] * len(chunk))
            params = [x for (site, device), n in chunk for x in (site, device, n)]
            out += self.db.all(sql.replace("{keys}", f"(VALUES {values}) AS h"), params)
        return out

    def _heads(self, keys: Collection[Key], now: str | None = None) -> dict[Key, tuple[int, str]]:
        """The verified head of each counter; with ``now``, a counter HQ never saw starts
        at the genesis (its row created)."""
        if not keys:
            return {}
        heads = {(str(s), str(d)): (int(n), str(h)) for s, d, n, h in self._by_key(
            "SELECT d.site, d.device, d.head_seq, d.head_hash FROM hq_devices d JOIN {keys} "
            "ON d.site = h.column1 AND d.device = h.column2", keys)}
        missing = [k for k in keys if k not in heads]
        if now is not None and missing:
            self.db.executemany(
                "INSERT INTO hq_devices (site, device, head_seq, head_hash, last_seen) VALUES "
                "(?, ?, 0, ?, ?) ON CONFLICT (site, device) DO NOTHING",
                [(*k, GENESIS, now) for k in missing])
            heads.update((k, (0, GENESIS)) for k in missing)
        return heads

    def _pending(self, windows: Mapping[Key, int]) -> dict[Key, list[tuple[int, str]]]:
        """Each counter's unverified (seq, id) in its walk window above ``windows[key]``."""
        out: dict[Key, list[tuple[int, str]]] = {k: [] for k in windows}
        for site, device, seq, eid in self._by_key(
                "SELECT e.site, e.device, e.seq, e.id FROM hq_events e JOIN {keys} ON "
                "e.site = h.column1 AND e.device = h.column2 AND e.seq > h.column3 AND "
                f"e.seq <= h.column3 + {_WALK} WHERE e.verified = 0 "
                "ORDER BY e.site, e.device, e.seq, e.id", windows):
            out[(str(site), str(device))].append((int(seq), str(eid)))
        return out

    def _bodies(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        out: dict[str, Mapping[str, Any]] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            out.update((str(eid), json.loads(body)) for eid, body in self.db.all(
                f"SELECT id, body FROM hq_events WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk))
        return out

    def _advance(self, touched: Mapping[Key, Mapping[str, Mapping[str, Any]]], now: str,
                 res: IngestResult, intact: Mapping[str, bool], chains: Chains) -> Walked:
        """Walk each touched counter's chain from its verified head as far as it links,
        over its new events (not stored yet; ``intact`` says whose hash matches) and the
        unverified ones stored before (``chains``: as read at the start, heads and the
        first window)."""
        db = self.db
        walked = Walked()
        heads = {k: chains.heads[k] for k in touched}
        start = dict(heads)
        first: Mapping[Key, list[tuple[int, str]]] | None = chains.pending
        found = {k: 0 for k in touched}
        for key, fresh in touched.items():
            head_seq = heads[key][0]
            for eid, ev in fresh.items():
                if ev["seq"] <= head_seq:
                    self._reject(key, ev, "replay", f"a second event for seq {ev['seq']}, "
                                 "which HQ already holds verified", now, res, stored=False)
                elif ev["seq"] > head_seq + MAX_AHEAD:
                    self._reject(key, ev, "jump", f"seq {ev['seq']} is more than "
                                 f"{MAX_AHEAD} above the verified seq {head_seq}", now, res,
                                 stored=False)
                else:
                    continue
                found[key] += 1
                walked.rejected.add(eid)
        todo = {k: heads[k][0] for k in touched}
        while todo:
            pending, first = first if first is not None else self._pending(todo), None
            stored = self._bodies([eid for rows in pending.values() for _s, eid in rows])
            again = {}
            for key, window in todo.items():
                fresh = touched[key]
                rows = sorted(pending[key] + [
                    (int(ev["seq"]), eid) for eid, ev in fresh.items()
                    if eid not in walked.rejected and window < ev["seq"] <= window + _WALK])
                n = len(res.problems)
                heads[key] = self._walk(key, heads[key], window, rows, fresh, stored, now,
                                        res, walked, intact)
                found[key] += len(res.problems) - n
                if heads[key][0] >= window + _WALK:
                    again[key] = heads[key][0]  # the window was full: walk on from there
            todo = again
        # Stored events verify only when the gap before them was filled: rarely many.
        new = {eid for fresh in touched.values() for eid in fresh}
        late = [eid for eid in walked.verified if eid not in new]
        for i in range(0, len(late), 500):
            chunk = late[i:i + 500]
            db.execute(f"UPDATE hq_events SET verified = 1 WHERE id IN "
                       f"({', '.join('?' * len(chunk))})", chunk)
        moved = [k for k in touched if heads[k] != start[k] or found[k]]
        for i in range(0, len(moved), 300):  # one statement per 300 counters
            some = moved[i:i + 300]
            db.execute("UPDATE hq_devices SET head_seq = h.column3, head_hash = h.column4, "
                       "problems = problems + h.column5, last_seen = ? FROM (VALUES "
                       + ", ".join(["(?, ?, ?, ?, ?)"] * len(some)) + ") AS h WHERE "
                       "hq_devices.site = h.column1 AND hq_devices.device = h.column2",
                       [now, *(x for k in some for x in (*k, *heads[k], found[k]))])
        res.confirmed.update((k, heads[k][0]) for k in moved if heads[k] != start[k])
        return walked

    def _walk(self, key: Key, head: tuple[int, str], window: int,
              rows: Sequence[tuple[int, str]], fresh: Mapping[str, Mapping[str, Any]],
              stored: Mapping[str, Mapping[str, Any]], now: str, res: IngestResult,
              walked: Walked, intact: Mapping[str, bool]) -> tuple[int, str]:
        """Verify ``rows`` (one counter's (seq, id) above ``window``, new and stored, in
        order) from ``head``; what verified or was rejected goes to ``walked``; returns
        the new head."""
        head_seq, head_hash = head
        for seq, eid in rows:
            ev = fresh.get(eid) or stored[eid]
            if seq == head_seq and seq > window:  # a second claim on the seq verified
                self._reject(key, ev, "fork", f"two events claim seq {seq}", now, res,
                             stored=eid not in fresh)
                walked.rejected.add(eid)
                continue
            if seq != head_seq + 1:
                break  # a gap: the head waits for the missing seq
            problem = _verifies(ev, head_hash, intact[eid] if eid in fresh
                                else _intact(ev, stored=True))
            if problem is not None:
                detail = ("prev does not match the hash of the verified seq "
                          f"{seq - 1}" if problem == "chain" else
                          "hash does not match the event's content")
                self._reject(key, ev, problem, detail, now, res, stored=eid not in fresh)
                walked.rejected.add(eid)
                continue
            walked.verified.add(eid)
            if ev["type"] in _OPENS:
                walked.opens.append(ev)
            head_seq, head_hash = seq, ev["hash"]
        return head_seq, head_hash

    def _reject(self, key: Key, ev: Mapping[str, Any], kind: str, detail: str, now: str,
                res: IngestResult, *, stored: bool = True) -> None:
        """Keep ``ev`` as a problem, out of hq_events (a new event is never put there)."""
        body = opening.stored_body(ev)
        if stored:
            self.db.execute("DELETE FROM hq_events WHERE id = ?", (ev["id"],))
        self.db.execute(
            "INSERT INTO hq_problems (site, device, seq, kind, event_id, detail, body, "
            "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            "(site, device, seq, kind, event_id) DO NOTHING",
            (*key, ev["seq"], kind, ev["id"], detail, body, now))
        res.problems.append((*key, int(ev["seq"]), kind, detail))

    def reverify(self) -> None:
        """Walk every counter's chain from the genesis again (after migration 1 -> 2)."""
        keys = self.db.all("SELECT DISTINCT site, device FROM hq_events")
        res = IngestResult()
        with self.db.tx():
            self.db.lock(LOCK_CHAIN)
            self.db.execute("UPDATE hq_events SET verified = 0")
            self.db.execute("UPDATE hq_devices SET head_seq = 0, head_hash = ?", (GENESIS,))
            now = now_iso()
            touched: dict[Key, dict[str, Mapping[str, Any]]] = {
                (str(s), str(d)): {} for s, d in keys}
            walked = self._advance(touched, now, res, {}, self._chains(touched, now))
            opening.on_verified(self.db, walked.opens, now_iso())
            alert_opening.on_verified(self.db, walked.opens, now_iso())

    def quarantine(self, site: str, device: str, topic: str, reason: str,
                   payload: bytes) -> None:
        """Keep a refused message (its first 2,000 bytes) with the reason and the counter."""
        from device.events import uuid7

        head = payload[:2000].decode("utf-8", "backslashreplace")
        with self.db.tx():
            self.db.execute(
                "INSERT INTO hq_quarantine (id, site, device, topic, reason, size, head, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (uuid7(), site, device, topic.encode("utf-8", "backslashreplace")
                 .decode("ascii", "backslashreplace")[:300], reason[:500], len(payload),
                 head, now_iso()))

    def set_status(self, site: str, device: str, leaf: str, doc: Mapping[str, Any]) -> None:
        """Latest retained state or health of a counter (for the dashboard and reports)."""
        self.set_statuses([(site, device, leaf, doc)])

    def set_statuses(self, items: Sequence[tuple[str, str, str, Mapping[str, Any]]]) -> None:
        """Several state/health messages in one transaction (1,000 counters reconnecting
        send 1,000 retained states: one fsync, not 1,000). A Last Will carries nothing
        but ``online: false``: it is kept over the last state, so the wall still tells
        who was at the window when it went away."""
        now = now_iso()
        with self.db.tx():
            for site, device, leaf, doc in items:
                col = "state" if leaf == "state" else "health"
                if col == "state" and doc.get("online") is False and len(doc) == 1:
                    row = self.db.one("SELECT state FROM hq_devices WHERE site = ? AND "
                                      "device = ?", (site, device))
                    last = _json_object(row[0] if row else None)
                    doc = {**last, "online": False} if last else doc
                self.db.execute(
                    f"INSERT INTO hq_devices (site, device, head_seq, head_hash, {col}, "
                    f"last_seen) VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (site, device) DO "
                    f"UPDATE SET {col} = excluded.{col}, last_seen = excluded.last_seen",
                    (site, device, GENESIS, json.dumps(doc, ensure_ascii=False), now))

    def close(self) -> None:
        self.db.close()
