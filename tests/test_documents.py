"""Written documents (device/documents.py): promised dates across the official holidays
and their make-up workdays, a year nobody knows, and each document's content."""

from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from device.catalogue import Promise, PromiseUnit, load_default
from device.documents import Case, DocKind, DocumentRequest, build, promised_date
from device.errors import ParseError
from device.holidays import work_calendar
from device.workdays import WorkCalendar

CAL = WorkCalendar.official()
CATALOGUE = load_default()
WORKING, CALENDAR = PromiseUnit.WORKING, PromiseUnit.CALENDAR
NOW = datetime(2026, 11, 26, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
CASE = Case(case_no="W01-20261126-0007", service="hukou.move_in", officer="000001",
            officer_text="李明（000001）", station="示范派出所", window="1",
            consult_phone="12345", complaint_phone="12389",
            guide_url="https://hq.example.gov.cn/guide")
# 2027 as the State Council published it (its Spring Festival: Feb 6-14 off, Saturday
# Feb 20 worked), the way HQ publishes a year the package does not know yet.
HOLIDAYS_2027 = json.dumps({"years": {"2027": {
    "holidays": ["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08", "2027-02-09",
                 "2027-02-10", "2027-02-11", "2027-02-12", "2027-02-13", "2027-02-14"],
    "workdays": ["2027-02-20"]}}})


@pytest.mark.parametrize(("today", "promise", "want"), [
    # National Day 2026: Oct 1-7 off, Saturday Oct 10 worked: 5 working days from Sep 30
    # are Oct 8, 9, 10 (the make-up Saturday), 12, 13.
    (date(2026, 9, 30), Promise(5, WORKING), date(2026, 10, 13)),
    # Spring Festival 2026: Feb 15-23 off, Saturdays Feb 14 and 28 worked: from Friday
    # Feb 13, Feb 14 (make-up) counts, the holiday does not, then Feb 24-27.
    (date(2026, 2, 13), Promise(5, WORKING), date(2026, 2, 27)),
    # The day of acceptance itself is not counted; an ordinary week.
    (date(2026, 11, 26), Promise(5, WORKING), date(2026, 12, 3)),
    # Calendar days ending inside National Day end on the first working day after it.
    (date(2026, 9, 28), Promise(3, CALENDAR), date(2026, 10, 8)),
    (date(2026, 10, 15), Promise(60, CALENDAR), date(2026, 12, 14)),
])
def test_promised_date_counts_the_official_calendar(today: date, promise: Promise,
                                                    want: date) -> None:
    assert promised_date("", promise, CAL, today) == want


def test_a_year_neither_knows_is_an_error_never_a_date() -> None:
    # 20 working days from 2026-12-20 run into 2027, which chinese-calendar 1.11 lacks.
    with pytest.raises(ParseError, match=r"2027.*known: 2004-2026.*holidays"):
        promised_date("", Promise(20, WORKING), CAL, date(2026, 12, 20))
    # A calendar-day limit ending in 2027 needs 2027 too (is its last day a day off?).
    with pytest.raises(ParseError, match="2027"):
        promised_date("", Promise(60, CALENDAR), CAL, date(2026, 12, 1))


def test_the_holidays_hq_published_extend_the_package() -> None:
    cal = work_calendar(HOLIDAYS_2027)
    # From 2026-12-20 (Sunday): Dec 21-25, 28-31 (9), Jan 4-8 (14; Jan 1 off), Jan 11-15
    # (19), Jan 18 (20).
    assert promised_date("", Promise(20, WORKING), cal, date(2026, 12, 20)) == date(2027, 1, 18)
    # Across its Spring Festival: from Friday Feb 5, Feb 15-19 count, then Saturday Feb 20.
    assert promised_date("", Promise(6, WORKING), cal, date(2027, 2, 5)) == date(2027, 2, 20)
    assert work_calendar("{not json").known_years() == CAL.known_years()


def test_an_explicit_date_must_be_a_working_day_from_today() -> None:
    assert promised_date("2026-10-10", None, CAL, date(2026, 9, 30)) == date(2026, 10, 10)
    with pytest.raises(ParseError, match=r"2026-10-05 is not a working day.*2026-10-08"):
        promised_date("2026-10-05", None, CAL, date(2026, 9, 30))
    with pytest.raises(ParseError, match="in the past"):
        promised_date("2026-09-29", None, CAL, date(2026, 9, 30))
    with pytest.raises(ParseError, match="must be a date like"):
        promised_date("10/10/2026", None, CAL, date(2026, 9, 30))
    with pytest.raises(ParseError, match="done on the spot"):
        promised_date("", None, CAL, date(2026, 9, 30))


def test_notice_lists_the_catalogue_materials_chosen_by_number_or_text() -> None:
    service = CATALOGUE.get("hukou.move_in")
    assert service is not None
    doc = build(DocumentRequest(DocKind.NOTICE, materials=(2, service.materials[0]),
                                remarks="原件须本人携带", deadline="2026-12-10"),
                CASE, CATALOGUE, CAL, NOW)
    assert doc.print_data["missing"] == [service.materials[1], service.materials[0]]
    assert doc.record == {"kind": "notice", "case_no": CASE.case_no, "service": "hukou.move_in",
                          "officer": "000001", "catalogue_version": CATALOGUE.version,
                          "materials": [service.materials[1], service.materials[0]],
                          "deadline": "2026-12-10"}
    assert doc.print_data["qr"] == (f"https://hq.example.gov.cn/guide?service=hukou.move_in"
                                    f"&v={CATALOGUE.version}")
    assert ("补正期限", "2026年12月10日前") in doc.lines
    for bad, why in [((), "at least one"), ((99,), "number 99 is not in the list"),
                     (("户口本",), "not in the catalogue list"), ((1, 1), "listed twice")]:
        with pytest.raises(ParseError, match=why):
            build(DocumentRequest(DocKind.NOTICE, materials=bad), CASE, CATALOGUE, CAL, NOW)


def test_refusal_takes_the_catalogue_reason_or_both_reason_and_basis() -> None:
    case = Case(**{**CASE.__dict__, "service": "id_card.first"})
    doc = build(DocumentRequest(DocKind.REFUSAL, refusal=1), case, CATALOGUE, CAL, NOW)
    first = CATALOGUE.get("id_card.first")
    assert first is not None
    assert doc.print_data["reason"] == first.refusals[0].reason
    assert doc.print_data["legal_basis"] == first.refusals[0].basis
    with pytest.raises(ParseError, match="both reason and basis"):
        build(DocumentRequest(DocKind.REFUSAL, reason="材料不全"), case, CATALOGUE, CAL, NOW)
    with pytest.raises(ParseError, match="refusal 5 is not a reason"):
        build(DocumentRequest(DocKind.REFUSAL, refusal=5), case, CATALOGUE, CAL, NOW)


def test_receipt_shows_and_prints_the_computed_date() -> None:
    doc = build(DocumentRequest(DocKind.RECEIPT, pickup="本窗口领取"), CASE, CATALOGUE, CAL, NOW)
    assert doc.record["promised_date"] == "2026-12-03" and doc.record["promise"] == "5个工作日"
    assert doc.print_data["promised_date"] == "2026年12月3日"
    assert ("承诺办结日期", "2026年12月3日") in doc.lines  # the mirror shows it first


def test_referral_comes_from_the_catalogue_list() -> None:
    doc = build(DocumentRequest(DocKind.REFERRAL, to="exit_entry", matter="港澳通行证签注"),
                CASE, CATALOGUE, CAL, NOW)
    assert doc.print_data["to_unit"] == "市公安局出入境管理支队"
    assert doc.record["to"] == "exit_entry"
    with pytest.raises(ParseError, match="use one of exit_entry, traffic"):
        build(DocumentRequest(DocKind.REFERRAL, to="tax"), CASE, CATALOGUE, CAL, NOW)


def test_a_walk_in_case_has_no_catalogue_service_to_document() -> None:
    case = Case(**{**CASE.__dict__, "service": "walk_in"})
    with pytest.raises(ParseError, match="start the case with a catalogue service"):
        build(DocumentRequest(DocKind.RECEIPT), case, CATALOGUE, CAL, NOW)
