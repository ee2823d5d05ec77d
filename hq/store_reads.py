"""What the HQ store answers about what it holds: integrity per counter, gaps, heads,
problems, quarantine, counts (HqStore's reading half; hq/store.py writes)."""

from __future__ import annotations

import json
from typing import Any

from hq.db import HqDb
from sync import inbound

Key = tuple[str, str]  # (site, device)


class StoreReads:
    db: HqDb

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
