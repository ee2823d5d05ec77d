"""The document and queue-control figures from events through the real ingest, the same
on SQLite and PostgreSQL: by window, station and service, the rankings, the intakes'
handovers and the receipts whose promise moved; a station's scope holds none of another's."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from hq.reports.documents import (
    Intakes,
    Scope,
    documents,
    intakes,
    kind_label,
    moved_receipts,
    queue,
    ranked,
)
from hq.reports.queries import By, indicators
from hq.store import HqStore
from kiosk.sync_cli import main_hq
from tests.hq.documents_support import MISSING, NOT_OURS, Counter, E, build
from tests.sync.test_hq_report import read

WEEK = Scope(date(2026, 11, 1), date(2026, 11, 8))


def test_documents_by_window_station_and_service(hq_url: str) -> None:
    build(hq_url)
    hq = HqStore.open(hq_url)
    try:
        rows = {r.key: r for r in documents(hq.db, WEEK, By.WINDOW)}
        assert set(rows) == {("s1", "w01"), ("s1", "w02"), ("s2", "w01")}
        w01 = rows[("s1", "w01")]
        assert dict(w01.issued) == {"notice": 1, "refusal": 3, "receipt": 2, "referral": 1,
                                    "intake": 3, "home_visit": 3, "certificate": 1}
        assert (w01.total, w01.withdrawn, w01.withdrawn_pct) == (14, 1, 6.7)
        assert (w01.promise_changes, w01.moved_receipts) == (2, 1)  # C5 moved twice
        assert dict(rows[("s1", "w02")].issued) == {"receipt": 1, "refusal": 1}  # L1 is late
        station = {r.key: r for r in documents(hq.db, WEEK, By.STATION)}
        assert station[("s1",)].issued["refusal"] == 4
        assert station[("s2",)].issued == {"refusal": 1, "referral": 1}
        # By service a promise change counts under its receipt's service.
        service = {r.key: r for r in documents(hq.db, WEEK, By.SERVICE)}
        first = service[("id_card.first",)]
        assert (first.issued["receipt"], first.promise_changes, first.moved_receipts) == (
            2, 2, 1)
        assert kind_label("certificate") == "其他（certificate）"
    finally:
        hq.close()


def test_queue_controls_per_window(hq_url: str) -> None:
    build(hq_url)
    hq = HqStore.open(hq_url)
    try:
        rows = {r.key: r for r in queue(hq.db, WEEK)}
        w01 = rows[("s1", "w01")]
        # A002 was called by number but first in line: called, not out of order.
        assert (w01.called, w01.out_of_order, w01.recalls, w01.no_shows, w01.requeued,
                w01.to_service, w01.to_window, w01.transfers) == (3, 1, 2, 2, 1, 1, 1, 2)
        assert rows[("s2", "w01")].recalls == 1
        # The registration window took up C8's intake: no citizen's call.
        assert (rows[("s1", "w02")].called, rows[("s1", "w02")].intakes) == (0, 1)
        ind = {r.key: r for r in indicators(hq.db, WEEK.start, WEEK.end)}
        assert (ind[("s1", "w02")].called, ind[("s1", "w02")].avg_wait_min) == (0, None)
        assert (ind[("s1", "w01")].called, ind[("s1", "w01")].avg_wait_min) == (3, 1.0)
        assert [r.key for r in queue(hq.db, WEEK, By.STATION)] == [("s1",), ("s2",)]
    finally:
        hq.close()


def test_rankings_intakes_and_moved_receipts(hq_url: str) -> None:
    build(hq_url)
    hq = HqStore.open(hq_url)
    try:
        assert ranked(hq.db, WEEK, "refusal") == [(NOT_OURS, 3), ("只在二所", 1),
                                                   (MISSING, 1)]
        assert ranked(hq.db, WEEK, "referral") == [("二所才有的去向", 1),
                                                    ("市公安局出入境管理支队", 1)]
        assert ranked(hq.db, WEEK, "home_visit") == [("elderly", 2), ("disabled", 1)]
        assert ranked(hq.db, WEEK, None) == [("系统故障", 1), ("需外地协查", 1)]
        # C8 handed on and taken up, C9 handed on and its day past, C18's day to come.
        assert intakes(hq.db, WEEK, date(2026, 11, 10)) == Intakes(3, 3, 1, 1, 1)
        assert intakes(hq.db, WEEK, date(2026, 11, 4)) == Intakes(3, 3, 1, 2, 0)
        moved = moved_receipts(hq.db, WEEK)
        assert [(m.site, m.device, m.case_no, m.service, m.promised, m.changes, m.new_date,
                 m.reason) for m in moved] == [
            ("s1", "w01", "C5", "id_card.first", "2026-11-20", 2, "2026-12-01", "系统故障")]
    finally:
        hq.close()


def test_a_station_scope_holds_nothing_of_another(hq_url: str) -> None:
    build(hq_url)
    hq = HqStore.open(hq_url)
    try:
        s1 = Scope(WEEK.start, WEEK.end, sites={"s1"})
        assert {r.key[0] for r in documents(hq.db, s1)} == {"s1"}
        assert {r.key[0] for r in queue(hq.db, s1)} == {"s1"}
        assert ranked(hq.db, s1, "refusal") == [(NOT_OURS, 3), (MISSING, 1)]
        assert ranked(hq.db, s1, "referral") == [("市公安局出入境管理支队", 1)]
        nobody = Scope(WEEK.start, WEEK.end, sites=set())  # a chief without a station
        assert documents(hq.db, nobody) == queue(hq.db, nobody) == []
        assert ranked(hq.db, nobody, "refusal") == [] and moved_receipts(hq.db, nobody) == []
        assert intakes(hq.db, nobody, date(2026, 11, 10)) == Intakes()
    finally:
        hq.close()


def test_kiosk_hq_report_has_the_windows_documents_and_queue_controls(
        hq_url: str, tmp_path: Path) -> None:
    build(hq_url)
    out = tmp_path / "report"
    assert main_hq(["report", "--db", hq_url, "--from", "2026-11-01", "--to", "2026-11-08",
                    "--out", str(out)]) == 0
    rows = {r["window"]: r for r in read(out / "documents.csv")}
    assert list(rows) == ["s1/w01", "s1/w02", "s2/w01"]
    w01 = rows["s1/w01"]
    assert [w01[k] for k in ("notice", "refusal", "receipt", "referral", "intake",
                             "home_visit", "other_kinds", "issued", "withdrawn",
                             "promise_changes", "receipts_promise_moved")] == [
        "1", "3", "2", "1", "3", "3", "1", "14", "1", "2", "1"]
    assert [w01[k] for k in ("called", "out_of_order", "recalls", "no_shows",
                             "no_shows_requeued", "to_service", "to_window")] == [
        "3", "1", "2", "2", "1", "1", "1"]
    assert rows["s2/w01"]["recalls"] == "1"
    assert (rows["s1/w02"]["called"], rows["s1/w02"]["intake_calls"]) == ("0", "1")
    tickets = {(r["dimension"], r["key"]): r for r in read(out / "tickets.csv")}
    assert ("window", "s1/w02") not in tickets  # the intake's call is no citizen's
    assert tickets[("window", "s1/w01")]["avg_wait_min"] == "1.0"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Documents and queue controls by window" in page and "<script" not in page


def test_a_document_of_no_known_kind_is_counted_never_dropped(hq_url: str) -> None:
    odd = Counter("s1", "w01")
    odd.add(E.DOCUMENT_ISSUED, kind=7, case_no="X1")  # not text: no kind
    odd.add(E.DOCUMENT_ISSUED, kind="passport_photo", case_no="X2", reason=["?"])
    odd.add(E.DOCUMENT_ISSUED, kind="refusal", case_no="X3", reason={"not": "text"})
    hq = HqStore.open(hq_url)
    try:
        hq.ingest(odd.out)
        (row,) = documents(hq.db, WEEK)
        assert dict(row.issued) == {"": 1, "passport_photo": 1, "refusal": 1}
        assert [kind_label(k) for k in sorted(row.issued)] == [
            "其他（未注明类型）", "其他（passport_photo）", "不予受理"]
        assert ranked(hq.db, WEEK, "refusal") == [("", 1)]  # shown as （未写明）
    finally:
        hq.close()
