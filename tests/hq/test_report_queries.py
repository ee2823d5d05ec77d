"""The indicators come out the same from SQLite and PostgreSQL (the SQL is per dialect),
and a body holding nonsense where a count belongs does not break the report."""

from __future__ import annotations

import json
from datetime import date

from hq.reports.queries import By, indicators
from hq.store import HqStore
from tests.sync.test_hq_report import build_db


def test_indicators_on_both_databases(hq_url: str) -> None:
    build_db(hq_url)
    hq = HqStore.open(hq_url)
    try:
        # A stored body from before HQ checked fields: mirror_flags that is not a count.
        body = {"id": "odd", "site": "s1", "device": "w01", "seq": 999,
                "ts": "2026-11-03T01:00:00.000Z", "type": "case.ended",
                "data": {"mirror_flags": "lots", "officer": "000001"}}
        hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                      "replayed, received_at, verified) VALUES ('odd', 's1', 'w01', 999, "
                      "?, 'case.ended', ?, 0, '', 1)", (body["ts"], json.dumps(body)))
        rows = {r.key: r for r in indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8))}
        w01 = rows[("s1", "w01")]
        assert (w01.cases, w01.rated, w01.good, w01.bad, w01.skipped) == (4, 2, 1, 1, 1)
        assert (w01.good_rate, w01.bad_rate, w01.active_rate) == (50.0, 50.0, 66.7)
        assert w01.mirror_flags == 2 and w01.orders == 1  # "lots" counts as none
        officers = indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8), by=By.OFFICER)
        assert [r.key for r in officers] == [("000001",), ("000002",)]
        assert indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8), sites=set()) == []
    finally:
        hq.close()
