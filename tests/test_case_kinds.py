"""The after-hours intake (户口代办) and the home visit (上门服务) as documents
(device/documents.py): the intake's handover date by the working-day calendar, what each
records and shows, and every refusal naming the field and the fix."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from device.catalogue import load_default
from device.documents import Case, DocKind, DocumentRequest, Need, build, parse_slot
from device.errors import ParseError
from device.workdays import WorkCalendar

CAL = WorkCalendar.official()
CATALOGUE = load_default()
TZ = ZoneInfo("Asia/Shanghai")
CASE = Case(case_no="W01-20261127-0031", service="hukou.birth", officer="000001",
            officer_text="李明（000001）", station="示范派出所", window="1",
            consult_phone="12345", complaint_phone="12389",
            guide_url="https://hq.example.gov.cn/guide")
BIRTH = CATALOGUE.get("hukou.birth")
assert BIRTH is not None


def intake(*materials: str | int, remarks: str = "") -> DocumentRequest:
    return DocumentRequest(DocKind.INTAKE, materials=materials or (1,), remarks=remarks)


@pytest.mark.parametrize(("now", "handover"), [
    # A Thursday evening: Friday.
    (datetime(2026, 11, 26, 20, 15, tzinfo=TZ), "2026-11-27"),
    # Friday evening after hours: the Monday after the weekend.
    (datetime(2026, 11, 27, 19, 40, tzinfo=TZ), "2026-11-30"),
    # Taken on a Saturday (the duty officer is there every day): Monday.
    (datetime(2026, 11, 28, 10, 0, tzinfo=TZ), "2026-11-30"),
    # The eve of National Day (Oct 1-7 off): the first working day after, Oct 8.
    (datetime(2026, 9, 30, 18, 30, tzinfo=TZ), "2026-10-08"),
    # In the middle of the holiday: Oct 8 too.
    (datetime(2026, 10, 4, 11, 0, tzinfo=TZ), "2026-10-08"),
    # Friday Oct 9: Saturday Oct 10 is the make-up workday (调休上班).
    (datetime(2026, 10, 9, 19, 0, tzinfo=TZ), "2026-10-10"),
])
def test_intake_is_handed_on_the_next_working_day(now: datetime, handover: str) -> None:
    doc = build(intake(1, 2), CASE, CATALOGUE, CAL, now)
    assert doc.record["handover_date"] == handover
    d = datetime.fromisoformat(handover)
    cn = f"{d.year}年{d.month}月{d.day}日"
    assert doc.print_data["handover_date"] == cn
    assert ("移交日期", f"{cn}（下一个工作日）转户籍民警办理") in doc.lines


def test_intake_records_what_was_received_and_no_remarks() -> None:
    now = datetime(2026, 11, 27, 19, 40, tzinfo=TZ)
    doc = build(intake(3, BIRTH.materials[0], remarks="亲属代交"), CASE, CATALOGUE, CAL,
                now)
    assert doc.title == "户口代办受理回执"
    assert doc.record == {"kind": "intake", "case_no": CASE.case_no, "service": "hukou.birth",
                          "officer": "000001", "catalogue_version": CATALOGUE.version,
                          "materials": [BIRTH.materials[2], BIRTH.materials[0]],
                          "handover_date": "2026-11-30"}
    # The remarks are free text: printed for the citizen, never in an event.
    assert doc.print_data["remarks"] == "亲属代交" and ("备注", "亲属代交") in doc.lines
    assert doc.print_data["received"] == [BIRTH.materials[2], BIRTH.materials[0]]
    assert ("已收材料", f"1. {BIRTH.materials[2]}\n2. {BIRTH.materials[0]}") in doc.lines


@pytest.mark.parametrize(("materials", "why"), [
    ((), "at least one received material of hukou.birth"),
    ((42,), "material number 42 is not in the list of hukou.birth"),
    (("出生证",), "send its number or its text exactly"),
    ((1, BIRTH.materials[0]), "listed twice"),
])
def test_intake_materials_come_from_the_catalogue(materials: tuple[str | int, ...],
                                                  why: str) -> None:
    now = datetime(2026, 11, 27, 19, 40, tzinfo=TZ)
    with pytest.raises(ParseError, match=why):
        build(DocumentRequest(DocKind.INTAKE, materials=materials), CASE, CATALOGUE, CAL, now)


def test_an_intake_on_new_years_eve_needs_next_years_holidays() -> None:
    now = datetime(2026, 12, 31, 19, 0, tzinfo=TZ)  # the next day is in 2027
    with pytest.raises(ParseError, match=r"cannot hand it on in 2027.*HQ must publish"):
        build(intake(1), CASE, CATALOGUE, CAL, now)


def visit(day: str, slot: str = "09:00-11:00", need: Need | None = Need.ELDERLY
          ) -> DocumentRequest:
    return DocumentRequest(DocKind.HOME_VISIT, visit_date=day, slot=slot, need=need)


def test_home_visit_records_the_day_the_slot_and_the_need_only() -> None:
    now = datetime(2026, 11, 26, 9, 30, tzinfo=TZ)
    doc = build(visit("2026-12-08", "14:00-16:30", Need.DISABLED), CASE, CATALOGUE, CAL, now)
    assert doc.title == "上门服务预约单"
    assert doc.record == {"kind": "home_visit", "case_no": CASE.case_no,
                          "service": "hukou.birth", "officer": "000001",
                          "catalogue_version": CATALOGUE.version, "visit_date": "2026-12-08",
                          "slot": "14:00-16:30", "need": "disabled"}
    assert doc.lines[2:] == (("上门日期", "2026年12月8日"), ("上门时段", "14:00-16:30"),
                             ("服务对象", "残疾人"))
    assert doc.print_data["need"] == "残疾人" and doc.print_data["slot"] == "14:00-16:30"
    assert not {"address", "name", "phone"} & (set(doc.print_data) | set(doc.record))


@pytest.mark.parametrize(("req", "why"), [
    (visit("2026-10-03"), r"date 2026-10-03 is not a working day.*the next is 2026-10-08"),
    (visit("2026-11-28"), r"not a working day.*the next is 2026-11-30"),  # a Saturday
    (visit("2026-11-25"), r"date 2026-11-25 is in the past \(today is 2026-11-26\)"),
    (visit("26/11/2026"), "date '26/11/2026' must be a date like 2026-11-26"),
    (visit("2026-11-26", "09:00-10:00"), "slot 09:00-10:00 has begun or passed today"),
    (visit("2026-12-01", "9:00-11:00"), "must be a time slot like 09:00-11:00"),
    (visit("2026-12-01", "11:00-09:00"), "ends before it starts"),
    (visit("2026-12-01", "24:00-25:00"), "must be a time slot like"),
    (visit("2026-12-01", need=None), "need must be one of elderly, disabled"),
])
def test_home_visit_refusals_name_the_field_and_the_fix(req: DocumentRequest,
                                                        why: str) -> None:
    now = datetime(2026, 11, 26, 9, 30, tzinfo=TZ)
    if req.visit_date.startswith("2026-10"):
        now = datetime(2026, 9, 30, 9, 30, tzinfo=TZ)
    with pytest.raises(ParseError, match=why):
        build(req, CASE, CATALOGUE, CAL, now)


def test_home_visit_today_is_fine_for_a_later_slot_and_on_a_make_up_saturday() -> None:
    now = datetime(2026, 11, 26, 9, 30, tzinfo=TZ)
    assert build(visit("2026-11-26", "14:00-15:00"), CASE, CATALOGUE, CAL,
                 now).record["visit_date"] == "2026-11-26"
    before = datetime(2026, 10, 9, 9, 0, tzinfo=TZ)
    assert build(visit("2026-10-10"), CASE, CATALOGUE, CAL,
                 before).record["visit_date"] == "2026-10-10"


def test_parse_slot_gives_minutes() -> None:
    assert parse_slot("09:00-11:30") == (540, 690)
    assert parse_slot("00:00-23:59") == (0, 1439)
