"""The HQ database: every event once, per-counter chain state, problems and work orders.

A counter is (site, device) everywhere: ids are unique only within a site. Dedupe is on
the event id (QoS 1 is at-least-once; pitfalls). Transactions are explicit, one per
ingest batch; several collectors may write at once (shared subscription), so the chain
walk takes a transaction-scoped advisory lock on PostgreSQL where SQLite's ``BEGIN
IMMEDIATE`` already serialises writers: a counter's head never moves twice at once.

The chain walk is what makes an event count. Each counter has a verified head (seq,
hash); after each batch the events just above it are checked in seq order, and only an
event whose ``prev`` is the head's hash and whose ``hash`` matches its content is
*verified*: it moves the head, and only then may it open a work order or appear in a
report. Anything else is a problem on record that opens nothing and is taken out of
``hq_events`` (kept in ``hq_problems`` with its body): a second event for a seq already
held (a replay under a new id), a broken or altered link, a jump far beyond the head.
The head stays where it was, so the genuine event that follows still verifies.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from device.events import GENESIS, chain_hash
from hq.db import LOCK_CHAIN, HqDb, now_iso, redact_url
from hq.workorders import opening
from sync import inbound
from sync.inbound import events_payload as parse_events_payload

__all__ = ["HqDb", "HqStore", "IngestResult", "parse_events_payload", "redact_url"]

log = logging.getLogger("hq")

Key = tuple[str, str]  # (site, device)

# An event this far above the verified head is not the counter's next events but a
# forgery (or a broken counter): kept as a problem so it leaves no gap nobody can fill.
MAX_AHEAD = 100_000
_WALK = 5000


@dataclass
class IngestResult:
    new: int = 0
    duplicates: int = 0
    work_orders: list[dict[str, Any]] = field(default_factory=list)
    problems: list[tuple[str, str, int, str, str]] = field(default_factory=list)
    # Counters whose verified head moved in this batch, and where it is now.
    confirmed: dict[Key, int] = field(default_factory=dict)


def _verifies(ev: Mapping[str, Any], head_hash: str, *, stored: bool = False) -> str | None:
    """None when ``ev`` is the next link after ``head_hash``; else the problem kind. A
    stored body without its callback phone (``redacted``, verified whole when it came)
    is checked for its link only: its content hash covered the phone."""
    if ev["prev"] != head_hash:
        return "chain"
    if stored and ev.get(opening.REDACTED):
        return None
    if chain_hash(ev["prev"], ev) != ev["hash"]:
        return "altered"
    return None


class HqStore:
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
        res = IngestResult()
        received = now_iso()
        db = self.db
        with db.tx():
            touched: dict[Key, dict[str, Mapping[str, Any]]] = {}
            resent: set[Key] = set()
            held = self._held([str(ev["id"]) for ev, _r in events])
            rows = []
            for ev, replayed in events:
                key = (ev["site"], ev["device"])
                if ev["id"] in held:
                    res.duplicates += 1
                    resent.add(key)
                    continue
                held.add(ev["id"])
                res.new += 1
                touched.setdefault(key, {})[ev["id"]] = ev
                rows.append((ev["id"], ev["site"], ev["device"], ev["seq"], ev["ts"], ev["type"],
                             opening.stored_body(ev),
                             int(replayed), received, int(ev["data"].get("simulated") is True)))
            # Conflicts here only when another collector stored the same event a moment
            # ago (PostgreSQL); the chain walk reads what is in the table either way.
            db.executemany(
                "INSERT INTO hq_events (id, site, device, seq, ts, type, body, replayed, "
                "received_at, verified, simulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) "
                "ON CONFLICT (id) DO NOTHING", rows)
            if touched:
                db.lock(LOCK_CHAIN)
            for key, fresh in touched.items():
                self._advance(key, received, fresh, res)
            # A counter sending what HQ holds has not seen its confirmation (a broker
            # that lost the retained message): confirm again where the head is.
            for key in resent - res.confirmed.keys():
                row = db.one("SELECT head_seq FROM hq_devices WHERE site = ? AND device = ?",
                             key)
                if row is not None and int(row[0]) > 0:
                    res.confirmed[key] = int(row[0])
        for wo in res.work_orders:
            log.warning("work order %s: %s rating by case %s of officer %s at %s/%s",
                        wo["id"], wo["level"], wo["case_no"], wo["officer"], wo["site"],
                        wo["device"])
        for site, device, seq, kind, detail in res.problems:
            log.error("chain problem on %s/%s seq %d (%s): %s", site, device, seq, kind,
                      detail)
        return res

    def _held(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` are stored already (one query per 500, not one per event)."""
        out: set[str] = set()
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join("?" * len(chunk))
            out.update(str(r[0]) for r in self.db.all(
                f"SELECT id FROM hq_events WHERE id IN ({marks})", chunk))
        return out

    def _head(self, key: Key, now: str) -> tuple[int, str]:
        row = self.db.one("SELECT head_seq, head_hash FROM hq_devices WHERE site = ? AND "
                          "device = ?", key)
        if row is not None:
            return int(row[0]), str(row[1])
        self.db.execute("INSERT INTO hq_devices (site, device, head_seq, head_hash, last_seen) "
                        "VALUES (?, ?, 0, ?, ?) ON CONFLICT (site, device) DO NOTHING",
                        (*key, GENESIS, now))
        return 0, GENESIS

    def _advance(self, key: Key, now: str, fresh: Mapping[str, Mapping[str, Any]],
                 res: IngestResult) -> None:
        db = self.db
        head_seq, head_hash = self._head(key, now)
        start, found = head_seq, len(res.problems)
        for ev in fresh.values():
            if ev["seq"] <= head_seq:
                self._reject(key, ev, "replay", f"a second event for seq {ev['seq']}, which "
                             "HQ already holds verified", now, res)
            elif ev["seq"] > head_seq + MAX_AHEAD:
                self._reject(key, ev, "jump", f"seq {ev['seq']} is more than {MAX_AHEAD} "
                             f"above the verified seq {head_seq}", now, res)
        while True:
            window = head_seq
            rows = db.all("SELECT seq, id, body FROM hq_events WHERE site = ? AND device = ? "
                          "AND seq > ? AND seq <= ? AND verified = 0 ORDER BY seq, id",
                          (*key, window, window + _WALK))
            for seq, eid, body in rows:
                seq = int(seq)
                ev = fresh.get(eid) or json.loads(body)
                if seq == head_seq and seq > window:  # a second claim on the seq verified
                    self._reject(key, ev, "fork", f"two events claim seq {seq}", now, res)
                    continue
                if seq != head_seq + 1:
                    break  # a gap: the head waits for the missing seq
                problem = _verifies(ev, head_hash, stored=eid not in fresh)
                if problem is not None:
                    detail = ("prev does not match the hash of the verified seq "
                              f"{seq - 1}" if problem == "chain" else
                              "hash does not match the event's content")
                    self._reject(key, ev, problem, detail, now, res)
                    continue
                self._work_order(ev, now, res)
                head_seq, head_hash = seq, ev["hash"]
            if head_seq < window + _WALK:
                break
        if head_seq != start:
            # Every other claim on start+1..head was rejected (deleted): what is left there
            # is exactly the chain just verified.
            db.execute("UPDATE hq_events SET verified = 1 WHERE site = ? AND device = ? AND "
                       "seq > ? AND seq <= ? AND verified = 0", (*key, start, head_seq))
        nprob = len(res.problems) - found
        if head_seq != start or nprob:
            db.execute("UPDATE hq_devices SET head_seq = ?, head_hash = ?, problems = "
                       "problems + ?, last_seen = ? WHERE site = ? AND device = ?",
                       (head_seq, head_hash, nprob, now, *key))
        if head_seq != start:
            res.confirmed[key] = head_seq

    def _reject(self, key: Key, ev: Mapping[str, Any], kind: str, detail: str, now: str,
                res: IngestResult) -> None:
        body = opening.stored_body(ev)
        self.db.execute("DELETE FROM hq_events WHERE id = ?", (ev["id"],))
        self.db.execute(
            "INSERT INTO hq_problems (site, device, seq, kind, event_id, detail, body, "
            "detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT "
            "(site, device, seq, kind, event_id) DO NOTHING",
            (*key, ev["seq"], kind, ev["id"], detail, body, now))
        res.problems.append((*key, int(ev["seq"]), kind, detail))

    def _work_order(self, ev: Mapping[str, Any], now: str, res: IngestResult) -> None:
        opened = opening.on_verified(self.db, ev, now)
        if opened is not None:
            res.work_orders.append(opened)

    def reverify(self) -> None:
        """Walk every counter's chain from the genesis again (after migration 1 -> 2)."""
        keys = self.db.all("SELECT DISTINCT site, device FROM hq_events")
        res = IngestResult()
        with self.db.tx():
            self.db.lock(LOCK_CHAIN)
            self.db.execute("UPDATE hq_events SET verified = 0")
            self.db.execute("UPDATE hq_devices SET head_seq = 0, head_hash = ?", (GENESIS,))
            for site, device in keys:
                self._advance((str(site), str(device)), now_iso(), {}, res)

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
        send 1,000 retained states: one fsync, not 1,000)."""
        now = now_iso()
        with self.db.tx():
            for site, device, leaf, doc in items:
                col = "state" if leaf == "state" else "health"
                self.db.execute(
                    f"INSERT INTO hq_devices (site, device, head_seq, head_hash, {col}, "
                    f"last_seen) VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (site, device) DO "
                    f"UPDATE SET {col} = excluded.{col}, last_seen = excluded.last_seen",
                    (site, device, GENESIS, json.dumps(doc, ensure_ascii=False), now))

    # ------------------------------------------------------------------ reading

    def integrity(self) -> list[dict[str, Any]]:
        """Per counter: events held, verified head, gaps (missing seq ranges), problems."""
        out = []
        for site, device, head, nprob in self.db.all(
                "SELECT site, device, head_seq, problems FROM hq_devices ORDER BY site, device"):
            key = (str(site), str(device))
            count, top, lowest = self.db.one(
                "SELECT count(*), coalesce(max(seq), 0), coalesce(min(seq), 1) FROM hq_events "
                "WHERE site = ? AND device = ?", key) or (0, 0, 1)
            # Cheap when complete (the usual case): seq 1..max all present, no walk needed.
            complete = int(count) == int(top) and int(lowest) == 1
            gaps = [] if complete else self.gaps(*key)
            out.append({"site": key[0], "device": key[1], "events": int(count),
                        "verified_seq": int(head), "max_seq": int(top), "gaps": gaps,
                        "problems": int(nprob)})
        return out

    def gaps(self, site: str, device: str, after: int = 0) -> list[tuple[int, int]]:
        seqs = [int(r[0]) for r in self.db.all(
            "SELECT DISTINCT seq FROM hq_events WHERE site = ? AND device = ? AND seq > ? "
            "ORDER BY seq", (site, device, after))]
        out, expect = [], after + 1
        for s in seqs:
            if s > expect:
                out.append((expect, s - 1))
            expect = s + 1
        return out

    def device_head_seq(self, site: str, device: str) -> int | None:
        """The counter's own last seq, as its latest health message reported it."""
        row = self.db.one("SELECT health FROM hq_devices WHERE site = ? AND device = ?",
                          (site, device))
        if not row or not row[0]:
            return None
        doc = json.loads(row[0])
        head = inbound.int_or_none(doc, "head_seq")
        # Only a settled counter: while its outbox drains, the tail is simply on its way.
        if head is not None and doc.get("outbox_depth") == 0:
            return head
        return None

    def verified_heads(self) -> dict[Key, int]:
        return {(str(s), str(d)): int(h) for s, d, h in
                self.db.all("SELECT site, device, head_seq FROM hq_devices")}

    def problems(self, site: str | None = None,
                 device: str | None = None) -> list[tuple[Any, ...]]:
        sql = "SELECT site, device, seq, kind, detail FROM hq_problems"
        if site is not None and device is not None:
            return self.db.all(sql + " WHERE site = ? AND device = ? ORDER BY seq, kind",
                               (site, device))
        return self.db.all(sql + " ORDER BY site, device, seq, kind")

    def quarantined(self) -> list[tuple[Any, ...]]:
        return self.db.all("SELECT site, device, topic, reason, size, received_at FROM "
                           "hq_quarantine ORDER BY received_at, id")

    def count(self, site: str | None = None, device: str | None = None) -> int:
        if site is not None and device is not None:
            row = self.db.one("SELECT count(*) FROM hq_events WHERE site = ? AND device = ?",
                              (site, device))
        else:
            row = self.db.one("SELECT count(*) FROM hq_events")
        return int(row[0]) if row else 0

    def work_orders(self) -> list[tuple[Any, ...]]:
        return self.db.all("SELECT id, site, device, officer, case_no, service, level, "
                           "event_ts, status FROM work_orders ORDER BY event_ts, id")

    def close(self) -> None:
        self.db.close()
