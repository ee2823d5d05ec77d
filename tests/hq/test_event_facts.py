"""The fields the reports count by are copied out of each event at ingest (hq.facts) and
out of older rows by migration fleet 0004's SQL: both must read any body the same way,
on SQLite and on PostgreSQL, or a report would change with the age of its rows."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from device.events import GENESIS, Draft, EventType, seal
from hq.facts import DocFacts, Facts, backfill_docs_sql, backfill_sql, doc_facts, facts
from hq.store import HqStore

# What a body may hold where a field belongs: the right thing, or any JSON value the
# collector lets in (it refuses control characters in text: sync.inbound).
text = st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=8)
values = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 2_000_000), st.floats(-5, 5, allow_nan=False),
    st.floats(2_678_000, 2_679_000),
    text, st.sampled_from(["satisfied", "unsatisfied", "000001", "12"]),
    st.lists(st.integers(0, 3), max_size=2), st.dictionaries(text,
                                                              st.integers(), max_size=1))
datas = st.dictionaries(st.sampled_from(["level", "officer", "service", "mirror_flags",
                                         "case_no", "duration_s", "waited_s"]), values)
bodies = st.lists(st.one_of(datas, values), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bodies)
def test_the_migration_reads_every_body_as_the_collector_does(hq_url: str,
                                                              found: list[Any]) -> None:
    hq = HqStore.open(hq_url)
    try:
        with hq.db.tx():
            hq.db.execute("DELETE FROM hq_events")
            for i, data in enumerate(found):
                body = json.dumps({"id": f"e{i}", "type": "case.ended", "data": data})
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at) VALUES (?, 's1', 'w01', ?, '', 'case.ended', ?, "
                              "'')", (f"e{i}", i + 1, body))
            hq.db.execute(backfill_sql(hq.db.kind))
        rows = hq.db.all("SELECT level, officer, service, mirror_flags, seconds FROM "
                         "hq_events ORDER BY seq")
        assert [Facts(r[0], r[1], r[2], int(r[3]), r[4]) for r in rows] == [
            facts({"data": d}) for d in found]
    finally:
        hq.close()


def test_the_collector_stores_the_facts_with_the_event(hq_url: str) -> None:
    ended = seal(Draft(EventType.CASE_ENDED, {"case_no": "C1", "officer": "000001",
                                              "service": "hukou", "mirror_flags": 3}),
                 site="s1", device="w01", seq=1, prev=GENESIS)
    rated = seal(Draft(EventType.RATING_GIVEN, {"case_no": "C1", "officer": "000001",
                                                "service": "hukou", "level": "basic",
                                                "unsatisfied": False}),
                 site="s1", device="w01", seq=2, prev=ended.hash)
    ev = ended.to_dict()
    hq = HqStore.open(hq_url)
    try:
        hq.ingest([(ev, False), (rated.to_dict(), False)])
        assert hq.db.all("SELECT type, level, officer, service, mirror_flags, verified "
                         "FROM hq_events ORDER BY seq") == [
            ("case.ended", None, "000001", "hukou", 3, 1),
            ("rating.given", "basic", "000001", "hukou", 0, 1)]
    finally:
        hq.close()


def test_a_body_the_database_cannot_parse_keeps_no_facts_and_stops_no_migration(
        hq_url: str) -> None:
    hq = HqStore.open(hq_url)
    try:
        with hq.db.tx():
            for i, body in enumerate(['{"data": {"officer": "\\u0000"}}', "not json",
                                      '{"data": {"officer": "000007"}}']):
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at) VALUES (?, 's1', 'w01', ?, '', 'case.ended', ?, "
                              "'')", (f"e{i}", i + 1, body))
            hq.db.execute(backfill_sql(hq.db.kind))
        assert [r[0] for r in hq.db.all("SELECT officer FROM hq_events ORDER BY seq")] == [
            None, None, "000007"]
    finally:
        hq.close()


# The documents' and queue controls' fields, with what a counter sends and nonsense.
doc_values = st.one_of(values, st.sampled_from(
    ["notice", "refusal", "receipt", "referral", "intake", "home_visit", "certificate",
     "2026-11-30", "2026-1-3", "2026-11-30\n", "２０２６-11-30", "elderly", ""]))
doc_datas = st.dictionaries(st.sampled_from(
    ["kind", "case_no", "reason", "to", "to_unit", "need", "promised_date", "handover_date",
     "visit_date", "new_date", "out_of_order", "skipped", "to_service", "to_window",
     "requeued", "intake"]), doc_values)
doc_types = st.sampled_from(["document.issued", "document.shown", "document.withdrawn",
                             "promise.changed", "ticket.called", "ticket.transferred",
                             "ticket.no_show", "ticket.recalled", "case.ended",
                             "intake.queued", "intake.called"])


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(doc_types, st.one_of(doc_datas, doc_datas, values)), min_size=1,
                max_size=12))
def test_migration_0005_reads_documents_and_queue_controls_as_the_collector_does(
        hq_url: str, found: list[tuple[str, Any]]) -> None:
    hq = HqStore.open(hq_url)
    try:
        with hq.db.tx():
            hq.db.execute("DELETE FROM hq_events")
            for i, (etype, data) in enumerate(found):
                body = json.dumps({"id": f"e{i}", "type": etype, "data": data})
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at) VALUES (?, 's1', 'w01', ?, '', ?, ?, '')",
                              (f"e{i}", i + 1, etype, body))
            hq.db.execute(backfill_docs_sql(hq.db.kind))
        rows = hq.db.all("SELECT kind, case_no, detail, on_date FROM hq_events ORDER BY seq")
        assert [DocFacts(*r) for r in rows] == [
            doc_facts({"type": t, "data": d}) for t, d in found]
    finally:
        hq.close()


def test_the_collector_stores_a_documents_facts_and_a_calls_order(hq_url: str) -> None:
    drafts = [Draft(EventType.DOCUMENT_ISSUED, {
                  "kind": "refusal", "case_no": "C1", "service": "hukou", "officer": "000001",
                  "reason": "不属于本机关职责", "legal_basis": "《行政许可法》第三十二条"}),
              Draft(EventType.DOCUMENT_ISSUED, {"kind": "home_visit", "case_no": "C2",
                                                "visit_date": "2026-11-09", "slot": "am",
                                                "need": "elderly"}),
              Draft(EventType.PROMISE_CHANGED, {"case_no": "C0", "new_date": "2026-12-01",
                                                "reason": "材料需外调核实"}),
              # Called by number, first in the queue: not out of order; then two skipped.
              Draft(EventType.TICKET_CALLED, {"number": "A001", "out_of_order": True,
                                              "skipped": 0}),
              Draft(EventType.TICKET_CALLED, {"number": "A005", "out_of_order": True,
                                              "skipped": 2}),
              Draft(EventType.TICKET_TRANSFERRED, {"number": "A006", "to_window": 3}),
              # A handed-on intake's call (device/handover.py): nobody waited for it.
              Draft(EventType.TICKET_CALLED, {"number": "DB001", "out_of_order": True,
                                              "skipped": 1, "intake": "C8"})]
    out, prev = [], GENESIS
    for seq, d in enumerate(drafts, 1):
        env = seal(d, site="s1", device="w01", seq=seq, prev=prev)
        prev = env.hash
        out.append((env.to_dict(), False))
    hq = HqStore.open(hq_url)
    try:
        hq.ingest(out)
        assert hq.db.all("SELECT kind, case_no, detail, on_date, service FROM hq_events "
                         "ORDER BY seq") == [
            ("refusal", "C1", "不属于本机关职责", None, "hukou"),
            ("home_visit", "C2", "elderly", "2026-11-09", None),
            (None, "C0", "材料需外调核实", "2026-12-01", None),
            (None, None, None, None, None), ("out_of_order", None, None, None, None),
            ("window", None, None, None, None), ("intake", None, None, None, None)]
    finally:
        hq.close()


def test_migration_0005_fills_the_rows_stored_before_it(hq_url: str) -> None:
    """Back to 0004 (no such columns), rows stored as a collector of then did, forward:
    the report reads them as if they had come today."""
    from django.core.management import call_command

    hq = HqStore.open(hq_url)
    try:
        call_command("migrate", "fleet", "0004", database=hq.db.alias, verbosity=0)
        refusal = {"kind": "refusal", "case_no": "C1", "reason": "不属于本机关职责"}
        called = {"number": "A005", "out_of_order": True, "skipped": 2}
        with hq.db.tx():
            for i, (etype, data) in enumerate([("document.issued", refusal),
                                               ("ticket.called", called)]):
                body = json.dumps({"id": f"e{i}", "type": etype, "data": data})
                hq.db.execute("INSERT INTO hq_events (id, site, device, seq, ts, type, body, "
                              "received_at) VALUES (?, 's1', 'w01', ?, '', ?, ?, '')",
                              (f"e{i}", i + 1, etype, body))
        call_command("migrate", "fleet", database=hq.db.alias, verbosity=0)
        assert hq.db.all("SELECT kind, case_no, detail FROM hq_events ORDER BY seq") == [
            ("refusal", "C1", "不属于本机关职责"), ("out_of_order", None, None)]
    finally:
        hq.close()
