"""The indicators come out the same from SQLite and PostgreSQL, and a body holding
nonsense where a count belongs (a row stored before HQ checked fields, its columns filled
by migration fleet 0004) does not break the report."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from hq.facts import backfill_sql
from hq.reports.queries import By, indicators, monthly
from hq.store import HqStore
from tests.sync.test_hq_report import Device, build_db


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
        hq.db.execute(backfill_sql(hq.db.kind))  # what the migration does to old rows
        rows = {r.key: r for r in indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8))}
        w01 = rows[("s1", "w01")]
        assert (w01.cases, w01.rated, w01.good, w01.bad, w01.skipped) == (4, 2, 1, 1, 1)
        assert (w01.good_rate, w01.bad_rate, w01.active_rate) == (50.0, 50.0, 66.7)
        assert w01.mirror_flags == 2 and w01.orders == 1  # "lots" counts as none
        officers = indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8), by=By.OFFICER)
        assert [r.key for r in officers] == [("000001",), ("000002",)]
        assert indicators(hq.db, date(2026, 11, 1), date(2026, 11, 8), sites=set()) == []
        # The window's service: an away of 15 minutes, a ticket called after 10, a comment.
        assert (w01.aways, w01.away_min, w01.tickets, w01.called, w01.avg_wait_min,
                w01.comments, w01.flags_per_case) == (1, 15.0, 1, 1, 10.0, 1, 50.0)
    finally:
        hq.close()


def test_month_over_month_in_the_city_zone(hq_url: str) -> None:
    build_db(hq_url)
    edge = Device("w09")  # 00:30 on 1 November in Shanghai, still October in UTC
    edge.case(datetime(2026, 10, 31, 16, 30, tzinfo=UTC), "EDGE", "000003", "hukou",
              "satisfied")
    hq = HqStore.open(hq_url)
    try:
        hq.ingest(edge.out)
        months = monthly(hq.db, date(2026, 11, 30))
        assert [r.key for r in months] == [(f"{y}-{m:02d}",) for y, m in
                                           [(2025, 12)] + [(2026, i) for i in range(1, 12)]]
        got = {r.key[0]: (r.rated, r.good, r.bad, r.orders) for r in months}
        assert got["2026-03"] == (1, 0, 1, 1)  # the old unsatisfied case and its order
        assert got["2026-11"] == (6, 3, 2, 2)  # EDGE counts in November
        assert got["2026-10"] == got["2026-06"] == (0, 0, 0, 0)
        assert [r.rated for r in monthly(hq.db, date(2026, 11, 30), sites={"s9"})] == [0] * 12
    finally:
        hq.close()
