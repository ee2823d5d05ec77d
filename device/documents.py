"""The written documents a window issues: the notice of missing materials (一次性告知),
the refusal with its reason and legal basis, the receipt with its promised date (限时承诺),
the referral to the unit a matter belongs to (首接负责), and the two recorded case kinds
of after hours and outreach: the after-hours intake receipt (户口代办受理回执: what the
duty officer received, handed on to the registration queue the next working day,
device/handover.py) and the home-visit appointment (上门服务预约单) for the elderly or
disabled.

Pure: a request (what the workstation or the officer panel sent), the open case, the
catalogue in force, the working-day calendar and the local time in; a
:class:`Document` out, or :class:`~device.errors.ParseError` naming the field and the fix.
The document holds what the mirror shows the citizen before it prints, the print job's
data and what its events record: never personal data (the case number, the service, the
officer, the materials, the dates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from device.catalogue import Catalogue, Promise, PromiseUnit, Service
from device.errors import ParseError
from device.workdays import UnknownYear, WorkCalendar

_T = TypeVar("_T")
MAX_ITEMS = 20  # materials on one notice: more is a workstation bug, not a case
_SLOT_RE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])")


class DocKind(StrEnum):
    NOTICE = "notice"
    REFUSAL = "refusal"
    RECEIPT = "receipt"
    REFERRAL = "referral"
    INTAKE = "intake"
    HOME_VISIT = "home_visit"


class Need(StrEnum):
    """Why a home visit is made (上门服务): who cannot come to the window. Only the
    category is recorded, never who the person is or where they live."""

    ELDERLY = "elderly"
    DISABLED = "disabled"


NEED_TEXT = {Need.ELDERLY: "老年人", Need.DISABLED: "残疾人"}

TITLES = {DocKind.NOTICE: "补正材料告知书", DocKind.REFUSAL: "不予受理告知书",
          DocKind.RECEIPT: "受理回执", DocKind.REFERRAL: "转办告知书",
          DocKind.INTAKE: "户口代办受理回执", DocKind.HOME_VISIT: "上门服务预约单"}


@dataclass(frozen=True)
class DocumentRequest:
    """What the officer asked for; which fields count depends on ``kind``.

    notice: ``materials`` (texts or 1-based numbers of the service's catalogue list),
    ``remarks``, ``deadline``; refusal: ``refusal`` (a 1-based number of the service's
    catalogue reasons) or ``reason`` and ``basis``; receipt: ``promised_date`` (optional:
    computed from the catalogue's time limit), ``pickup``; referral: ``to`` (a code of
    the catalogue's referral list) and ``matter``; intake: ``materials`` (those received,
    chosen as a notice's are) and ``remarks``; home_visit: ``visit_date``, ``slot``
    ("HH:MM-HH:MM") and ``need``. A home visit has no field for an address or a name:
    personal data stays on the workstation."""

    kind: DocKind
    materials: tuple[str | int, ...] = ()
    remarks: str = ""
    deadline: str = ""
    refusal: int = 0
    reason: str = ""
    basis: str = ""
    promised_date: str = ""
    pickup: str = ""
    to: str = ""
    matter: str = ""
    visit_date: str = ""
    slot: str = ""
    need: Need | None = None


@dataclass(frozen=True)
class Case:
    """The open case a document belongs to and where it is issued."""

    case_no: str
    service: str
    officer: str  # badge
    officer_text: str  # "李明（000001）" as printed
    station: str
    window: str
    consult_phone: str
    complaint_phone: str
    guide_url: str


@dataclass(frozen=True)
class Document:
    kind: DocKind
    case_no: str
    service: str
    title: str
    lines: tuple[tuple[str, str], ...]  # what the mirror shows: (label, text)
    print_data: Mapping[str, Any] = field(compare=False)
    record: Mapping[str, Any] = field(compare=False)  # what its events carry


def build(req: DocumentRequest, case: Case, catalogue: Catalogue, calendar: WorkCalendar,
          now: datetime) -> Document:
    """The document ``req`` asks for in ``case``; ParseError naming the field and the fix."""
    service = catalogue.get(case.service)
    if service is None and req.kind is not DocKind.REFERRAL:
        raise ParseError(f"the open case's service {case.service!r} is not in the catalogue "
                         f"(version {catalogue.version}): start the case with a catalogue "
                         f"service to issue {_a(req.kind.value)}")
    base: dict[str, Any] = {
        "case_no": case.case_no, "service_code": case.service,
        "service_name": service.name if service else catalogue.name(case.service),
        "station": case.station, "window": case.window, "officer": case.officer_text,
        "consult_phone": catalogue.consult_phone or case.consult_phone,
        "complaint_phone": case.complaint_phone, "catalogue_version": catalogue.version,
        "issued_at": now.strftime("%Y-%m-%d %H:%M"),
        "qr": f"{case.guide_url}?service={case.service}&v={catalogue.version}"}
    record: dict[str, Any] = {"kind": req.kind.value, "case_no": case.case_no,
                              "service": case.service, "officer": case.officer,
                              "catalogue_version": catalogue.version}
    lines: list[tuple[str, str]] = [("受理编号", case.case_no), ("办理事项", base["service_name"])]
    if req.kind is DocKind.NOTICE:
        assert service is not None
        missing = _materials(req.materials, service, catalogue.version)
        base.update(missing=list(missing), remarks=req.remarks)
        record["materials"] = list(missing)
        lines.append(("需补正材料", "\n".join(f"{i}. {m}" for i, m in enumerate(missing, 1))))
        if req.remarks:
            lines.append(("备注", req.remarks))
        if req.deadline:
            by = _date(req.deadline, "deadline", now.date())
            base["deadline"] = _cn(by)
            record["deadline"] = by.isoformat()
            lines.append(("补正期限", f"{_cn(by)}前"))
    elif req.kind is DocKind.REFUSAL:
        assert service is not None
        reason, basis = _refusal(req, service, catalogue.version)
        base.update(reason=reason, legal_basis=basis)
        record.update(reason=reason, legal_basis=basis)
        lines += [("不予受理理由", reason), ("法律依据", basis)]
    elif req.kind is DocKind.RECEIPT:
        assert service is not None
        promised = promised_date(req.promised_date, service.promise, calendar, now.date())
        base.update(promised_date=_cn(promised), accepted_at=base["issued_at"],
                    pickup=req.pickup)
        record.update(promised_date=promised.isoformat(),
                      promise=service.promise.text if service.promise else "")
        lines += [("承诺办结日期", _cn(promised))]
        if req.pickup:
            lines.append(("领取方式", req.pickup))
    elif req.kind is DocKind.INTAKE:
        assert service is not None
        _intake(req, service, catalogue.version, calendar, now.date(), base, record, lines)
    elif req.kind is DocKind.HOME_VISIT:
        _home_visit(req, calendar, now, base, record, lines)
    else:
        ref = catalogue.referral(req.to)
        if ref is None:
            codes = ", ".join(r.code for r in catalogue.referrals)
            raise ParseError(f"to {req.to!r} is not in the catalogue's referral list "
                             f"(version {catalogue.version}); " + (
                                 f"use one of {codes}" if codes else
                                 "it lists none: HQ adds them to the catalogue's referrals"))
        base.update(to_unit=ref.unit, to_address=ref.address, to_phone=ref.phone,
                    to_matters=ref.matters, matter=req.matter)
        record.update(to=ref.code, to_unit=ref.unit)
        lines += [("请前往", ref.unit), ("地址", ref.address), ("电话", ref.phone)]
        if req.matter:
            lines.insert(2, ("所办事项", req.matter))
    return Document(req.kind, case.case_no, case.service, TITLES[req.kind], tuple(lines),
                    base, record)


def _intake(req: DocumentRequest, service: Service, version: str, calendar: WorkCalendar,
            today: date, base: dict[str, Any], record: dict[str, Any],
            lines: list[tuple[str, str]]) -> None:
    """After hours the duty officer only takes the materials: the registration officer
    handles them on the next working day (a Friday evening's or a holiday eve's go to
    the first working day after; so do a Saturday's)."""
    received = _materials(req.materials, service, version, what="received")
    handover = _counted(lambda: calendar.add_workdays(today, 1), calendar, "hand it on")
    base.update(received=list(received), remarks=req.remarks, handover_date=_cn(handover),
                accepted_at=base["issued_at"])
    record.update(materials=list(received), handover_date=handover.isoformat())
    lines.append(("已收材料", "\n".join(f"{i}. {m}" for i, m in enumerate(received, 1))))
    if req.remarks:
        lines.append(("备注", req.remarks))
    lines.append(("移交日期", f"{_cn(handover)}（下一个工作日）转户籍民警办理"))


def _home_visit(req: DocumentRequest, calendar: WorkCalendar, now: datetime,
                base: dict[str, Any], record: dict[str, Any],
                lines: list[tuple[str, str]]) -> None:
    if req.need is None:
        raise ParseError("need must be one of " + ", ".join(n.value for n in Need))
    day = _date(req.visit_date, "date", now.date())
    if not _counted(lambda: calendar.is_workday(day), calendar, "book a visit"):
        nxt = _counted(lambda: calendar.add_workdays(day, 0), calendar, "book a visit")
        raise ParseError(f"date {day.isoformat()} is not a working day; send a working day "
                         f"(the next is {nxt.isoformat()})")
    start, _ = parse_slot(req.slot)
    if day == now.date() and start <= now.hour * 60 + now.minute:
        raise ParseError(f"slot {req.slot} has begun or passed today (it is "
                         f"{now.strftime('%H:%M')}); send a later slot or another date")
    base.update(visit_date=_cn(day), slot=req.slot, need=NEED_TEXT[req.need])
    record.update(visit_date=day.isoformat(), slot=req.slot, need=req.need.value)
    lines += [("上门日期", _cn(day)), ("上门时段", req.slot),
              ("服务对象", NEED_TEXT[req.need])]


def parse_slot(text: str) -> tuple[int, int]:
    """A visit's time slot "HH:MM-HH:MM" as (start, end) minutes of the day; ParseError
    naming the field and the fix."""
    m = _SLOT_RE.fullmatch(text)
    if not m:
        raise ParseError(f"slot {text[:20]!r} must be a time slot like 09:00-11:00 (24-hour "
                         "HH:MM-HH:MM)")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if end <= start:
        raise ParseError(f"slot {text} ends before it starts; send the start first, like "
                         "09:00-11:00")
    return start, end


def _counted(step: Callable[[], _T], calendar: WorkCalendar, what: str) -> _T:
    """``step`` on the calendar; a year it does not know is an error naming the fix."""
    try:
        return step()
    except UnknownYear as exc:
        raise _unknown(exc, calendar, what) from None


def _unknown(exc: UnknownYear, calendar: WorkCalendar, what: str,
             otherwise: str = "") -> ParseError:
    known = sorted(calendar.known_years())
    span = f"{known[0]}-{known[-1]}" if known else "none"
    return ParseError(f"cannot {what} in {exc.year}: the counter has no holiday data for "
                      f"{exc.year} (known: {span}); HQ must publish the {exc.year} "
                      f"holidays (site content 'holidays'){otherwise}")


def promised_date(explicit: str, promise: Promise | None, calendar: WorkCalendar,
                  today: date) -> date:
    """The date a receipt promises: ``explicit`` (an ISO date, a working day from today
    on) or the service's time limit counted from today (the day of acceptance itself is
    not counted). A limit in calendar days that ends on a day off ends on the next
    working day (期间届满日为法定节假日的，以节假日后的第一日为期间届满日). A year the
    calendar does not know is an error, never a guessed date."""
    try:
        if explicit:
            d = _date(explicit, "promised_date", today)
            if not calendar.is_workday(d):
                raise ParseError(f"promised_date {explicit} is not a working day; send a "
                                 "working day (the next is "
                                 f"{calendar.add_workdays(d, 0).isoformat()})")
            return d
        if promise is None:
            raise ParseError("the service has no time limit in the catalogue (it is done "
                             "on the spot); send promised_date to promise a date")
        if promise.unit is PromiseUnit.WORKING:
            return calendar.add_workdays(today, promise.days)
        return calendar.add_workdays(today + timedelta(days=promise.days), 0)
    except UnknownYear as exc:
        raise _unknown(exc, calendar, "promise a date", ", or send promised_date") from None


def _date(text: str, name: str, today: date) -> date:
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ParseError(f"{name} {text!r} must be a date like {today.isoformat()}") from None
    if d < today:
        raise ParseError(f"{name} {text} is in the past (today is {today.isoformat()})")
    return d


def _a(word: str) -> str:
    """"a notice", "an intake": the refusals are read by people."""
    return f"{'an' if word[:1] in set('aeiou') else 'a'} {word}"


def _cn(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _materials(chosen: Sequence[str | int], service: Service, version: str, *,
               what: str = "missing") -> list[str]:
    listed = ", ".join(f"{i}. {m}" for i, m in enumerate(service.materials, 1))
    if not chosen:
        raise ParseError(f"materials must name at least one {what} material of "
                         f"{service.code}: {listed}")
    if len(chosen) > MAX_ITEMS:
        raise ParseError(f"materials lists {len(chosen)} items; at most {MAX_ITEMS}")
    out: list[str] = []
    for item in chosen:
        if isinstance(item, int):
            if not 1 <= item <= len(service.materials):
                raise ParseError(f"material number {item} is not in the list of "
                                 f"{service.code} (version {version}): {listed}")
            text = service.materials[item - 1]
        elif item in service.materials:
            text = item
        else:
            raise ParseError(f"material {item[:40]!r} is not in the catalogue list of "
                             f"{service.code} (version {version}): send its number or "
                             f"its text exactly: {listed}")
        if text in out:
            raise ParseError(f"material {text!r} is listed twice; list each once")
        out.append(text)
    return out


def _refusal(req: DocumentRequest, service: Service, version: str) -> tuple[str, str]:
    if req.refusal:
        if not 1 <= req.refusal <= len(service.refusals):
            known = "; ".join(f"{i}. {r.reason}" for i, r in enumerate(service.refusals, 1))
            raise ParseError(f"refusal {req.refusal} is not a reason of {service.code} in "
                             f"the catalogue (version {version}): "
                             f"{known or 'it lists none; send reason and basis'}")
        r = service.refusals[req.refusal - 1]
        return r.reason, r.basis
    if not req.reason or not req.basis:
        raise ParseError("a refusal needs refusal (a number of the catalogue's reasons) or "
                         "both reason and basis (the legal basis): the standard asks for "
                         "the reason and its basis in writing")
    return req.reason, req.basis
