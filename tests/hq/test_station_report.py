"""The station report's figures (hq.reports.station) from the events a real kiosk-station
records, through the real ingest, on SQLite and PostgreSQL: per station, window number
and service, waits with their 90th percentile, service times per window and service; the
windows' and the entrance's own copies of the same tickets counted once, a block ticket
counted as the entrance's; and the columns they read (hq.facts.station_facts) the same
whether the collector filled them or migration fleet 0007 did."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hq.facts import (
    StationFacts,
    backfill_docs_sql,
    backfill_station_sql,
    doc_facts,
    station_facts,
)
from hq.reports.documents import Scope, queue
from hq.reports.queries import By, indicators
from hq.reports.station import Per, ServiceTime, figures, service_times
from hq.store import HqStore
from tests.hq.station_support import BIRTH, RENEW, build

WEEK = Scope(date(2026, 11, 1), date(2026, 11, 8))

# What a body may hold where a field belongs: the right thing, or any JSON value.
values = st.one_of(st.none(), st.booleans(), st.integers(-3, 1002),
                   st.sampled_from([0, 1, 999, 1000, 2_678_400, 2_678_401]),
                   st.floats(-5, 5, allow_nan=False), st.floats(998.5, 1000.5),
                   st.text(max_size=4), st.lists(st.integers(0, 3), max_size=2))
datas = st.dictionaries(st.sampled_from(["window", "service_s", "fallback", "waited_s"]),
                        values)
types = st.sampled_from(["ticket.issued", "ticket.called", "ticket.done", "ticket.recalled",
                         "ticket.no_show", "ticket.transferred", "case.ended",
                         "away.ended"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(types, st.one_of(datas, datas, values)), min_size=1, max_size=12))
def test_migration_0007_reads_every_body_as_the_collector_does(
        hq_url: str, found: list[tuple[str, Any]]) -> None:
    hq = HqStore.open(hq_url)
    try:
        with hq.db.tx():
            hq.db.execute("DELETE FROM hq_events")
            for i, (etype, data) in enumerate(found):
                body = json.dumps({"id": f"e{i}", "type": etype, "data": data})
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at) VALUES (?, 's1', 'station', ?, '', ?, ?, '')",
                              (f"e{i}", i + 1, etype, body))
            hq.db.execute(backfill_docs_sql(hq.db.kind))  # 0005, then 0007
            hq.db.execute(backfill_station_sql(hq.db.kind))
        rows = hq.db.all("SELECT window_no, service_s, kind FROM hq_events ORDER BY seq")
        events = [{"type": t, "data": d} for t, d in found]
        assert [(StationFacts(r[0], r[1]), r[2]) for r in rows] == [
            (station_facts(e), doc_facts(e).kind) for e in events]
    finally:
        hq.close()


def test_the_collector_stores_window_service_time_and_block(hq_url: str,
                                                             tmp_path: Path) -> None:
    build(hq_url, tmp_path)
    hq = HqStore.open(hq_url)
    try:
        done = hq.db.all("SELECT window_no, service_s, seconds FROM hq_events WHERE site = "
                         "'s1' AND type = 'ticket.done' ORDER BY seq")
        assert done == [(1, 300.0, 300.0), (2, 420.0, 660.0), (2, 240.0, 1380.0)]
        assert hq.db.all("SELECT DISTINCT window_no, service_s FROM hq_events WHERE type = "
                         "'ticket.issued'") == [(None, None)]
        assert hq.db.all("SELECT device, service FROM hq_events WHERE kind = 'block'") == [
            ("entrance", BIRTH)]
    finally:
        hq.close()


def test_migration_0007_fills_the_rows_stored_before_it(hq_url: str) -> None:
    """Back to 0006 (no such columns), rows stored as a collector of then did, forward."""
    from django.core.management import call_command

    hq = HqStore.open(hq_url)
    try:
        call_command("migrate", "fleet", "0006", database=hq.db.alias, verbosity=0)
        found = [("ticket.done", {"number": "A001", "window": 2, "service_s": 95.5}),
                 ("ticket.called", {"number": "A002", "window": True, "waited_s": 3}),
                 ("ticket.issued", {"number": "E001", "fallback": True}),
                 ("ticket.no_show", {"number": "A003", "window": 3, "requeued": False})]
        with hq.db.tx():
            for i, (etype, data) in enumerate(found):
                body = json.dumps({"id": f"e{i}", "type": etype, "data": data})
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at, kind) VALUES (?, 's1', 'station', ?, '', ?, ?, "
                              "'', ?)", (f"e{i}", i + 1, etype, body,
                                         doc_facts({"type": etype, "data": data}).kind
                                         if etype != "ticket.issued" else None))
        call_command("migrate", "fleet", database=hq.db.alias, verbosity=0)
        assert hq.db.all("SELECT window_no, service_s, kind FROM hq_events ORDER BY seq") == [
            (2, 95.5, None), (None, None, None), (None, None, "block"), (3, None, "dropped")]
    finally:
        hq.close()


def test_per_station_each_ticket_once(hq_url: str, tmp_path: Path) -> None:
    build(hq_url, tmp_path)
    hq = HqStore.open(hq_url)
    try:
        rows = {r.key: r for r in figures(hq.db, WEEK, Per.STATION)}
        assert list(rows) == [("s1",), ("s2",)]
        s1 = rows[("s1",)]
        # Four station tickets and E001 from the entrance's block; the entrance's and
        # the windows' own copies of the same tickets are not counted again.
        assert (s1.issued, s1.block, s1.called, s1.done) == (5, 1, 7, 3)
        assert (s1.no_shows, s1.requeued, s1.dropped) == (2, 1, 1)
        assert (s1.to_service, s1.to_window, s1.recalls) == (1, 1, 1)
        # Waits 300, 240, 660, 720, 1200, 1200, 1380 s; seven calls, the 7th is the 90th
        # percentile's rank (ceil(6.3)).
        assert (s1.avg_wait_min, s1.longest_wait_min, s1.p90_wait_min) == (13.6, 23.0, 23.0)
        assert (s1.avg_service_min, s1.longest_service_min) == (5.3, 7.0)  # 300, 420, 240
        s2 = rows[("s2",)]
        # Ten waits of 60..600 s: the 9th (540 s) is the 90th percentile, not the longest.
        assert (s2.called, s2.avg_wait_min, s2.longest_wait_min, s2.p90_wait_min) == (
            10, 5.5, 10.0, 9.0)
        [total] = figures(hq.db, WEEK, None)
        assert (total.key, total.issued, total.called, total.p90_wait_min) == ((), 15, 17,
                                                                              20.0)
    finally:
        hq.close()


def test_per_window_and_per_service(hq_url: str, tmp_path: Path) -> None:
    build(hq_url, tmp_path)
    hq = HqStore.open(hq_url)
    try:
        rows = {r.key: r for r in figures(hq.db, WEEK, Per.WINDOW)}
        # Tickets issued name no window: in no window's row.
        assert list(rows) == [("s1", 1), ("s1", 2), ("s2", 1)]
        w1, w2 = rows[("s1", 1)], rows[("s1", 2)]
        assert (w1.issued, w1.called, w1.done, w1.to_window, w1.avg_wait_min) == (
            0, 2, 1, 1, 8.5)
        assert (w2.called, w2.done, w2.no_shows, w2.recalls, w2.to_service) == (5, 2, 2, 1, 1)
        assert (w2.avg_wait_min, w2.p90_wait_min, w2.avg_service_min) == (15.6, 23.0, 5.5)
        service = {r.key: r for r in figures(hq.db, WEEK, Per.SERVICE)}
        assert list(service) == [(BIRTH,), (RENEW,)]
        birth = service[(BIRTH,)]
        # A002 was called twice as 换领 and once, after its transfer, as 出生登记.
        assert (birth.issued, birth.block, birth.called, birth.done, birth.no_shows) == (
            3, 1, 4, 2, 2)
        assert service[(RENEW,)].called == 13
        assert service_times(hq.db, WEEK) == [
            ServiceTime("s1", 1, RENEW, 1, 5.0, 5.0), ServiceTime("s1", 2, BIRTH, 2, 5.5, 7.0),
            ServiceTime("s2", 1, RENEW, 10, 2.0, 2.0)]
    finally:
        hq.close()


def test_a_scope_holds_its_stations_period_and_verified_events_only(
        hq_url: str, tmp_path: Path) -> None:
    build(hq_url, tmp_path)
    hq = HqStore.open(hq_url)
    try:
        s2 = Scope(WEEK.start, WEEK.end, sites={"s2"})
        assert [r.key for r in figures(hq.db, s2, Per.WINDOW)] == [("s2", 1)]
        assert {t.site for t in service_times(hq.db, s2)} == {"s2"}
        nobody = Scope(WEEK.start, WEEK.end, sites=set())  # a chief without a station
        assert figures(hq.db, nobody) == figures(hq.db, nobody, None) == []
        assert service_times(hq.db, nobody) == []
        later = Scope(date(2026, 11, 11), date(2026, 11, 12))  # the ticket a week later
        assert [(r.key, r.issued) for r in figures(hq.db, later)] == [(("s1",), 1)]
        with hq.db.tx():  # a chain that no longer verifies counts nowhere
            hq.db.execute("UPDATE hq_events SET verified = 0 WHERE site = 's2'")
        assert [r.key for r in figures(hq.db, WEEK)] == [("s1",)]
    finally:
        hq.close()


def test_the_per_counter_reports_leave_the_stations_copies_out(hq_url: str,
                                                               tmp_path: Path) -> None:
    """The evaluation and document reports count each ticket once, at the counter that
    recorded it: the station's own ticket events (device ``station``) repeat those, and
    the station is no window."""
    build(hq_url, tmp_path)
    hq = HqStore.open(hq_url)
    try:
        rows = indicators(hq.db, WEEK.start, WEEK.end, sites={"s1"})
        assert all(r.key[1] != "station" for r in rows), [r.key for r in rows]
        # The entrance's four station tickets and its E001, the windows' seven calls.
        assert (sum(r.tickets for r in rows), sum(r.called for r in rows)) == (5, 7)
        [s1] = indicators(hq.db, WEEK.start, WEEK.end, sites={"s1"}, by=By.STATION)
        assert (s1.tickets, s1.called) == (5, 7)
        ctl = queue(hq.db, Scope(WEEK.start, WEEK.end, sites={"s1"}))
        assert all(r.key[1] != "station" for r in ctl), [r.key for r in ctl]
        assert sum(r.called for r in ctl) == 7 and sum(r.recalls for r in ctl) == 1
    finally:
        hq.close()
