"""The workstation link's document ops: notice, refusal, receipt, referral, the after-hours
intake (户口代办) and the home visit (上门服务), and promise_change
(docs/workstation-link.md).

Parsing checks each field where the line enters (device/fields.py). A document op parses
into a :class:`~device.documents.DocumentRequest`, which :func:`in_context` makes into the
document itself against the counter's open case, catalogue and working-day calendar
(``ShowDocument``: the mirror shows it, the citizen's 确认 prints it); a date the calendar
cannot count, a material the catalogue does not list, refuse the line and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device.catalogue import Catalogue
from device.core import Core
from device.counter import Mode
from device.documents import (
    Case,
    DocKind,
    DocumentRequest,
    Need,
    build,
    parse_slot,
    promised_date,
)
from device.errors import ParseError
from device.fields import text_field
from device.holidays import work_calendar
from device.intents import Intent, PromiseChange, Request, ShowDocument
from device.workdays import WorkCalendar
from drivers.link_fields import case_no_field

# What a home visit must never carry: who the person is and where they live stay on the
# workstation (its own records); a line naming one is refused, not silently cut.
_PERSONAL = ("address", "name", "phone", "id_number")


def _materials(m: dict[str, Any], what: str = "missing") -> tuple[str | int, ...]:
    raw = m.get("materials")
    if not isinstance(raw, list) or not raw:
        raise ParseError(f"field 'materials' must be a non-empty list of the {what} "
                         "materials: their numbers in the service's catalogue list (1, 2, "
                         "...) or their texts")
    out: list[str | int] = []
    for i, item in enumerate(raw[:21]):  # device.documents refuses more than 20
        if isinstance(item, int) and not isinstance(item, bool):
            out.append(item)
        else:
            out.append(text_field({"x": item}, "x", limit=200, nonempty=True,
                                  where=f"materials[{i}]"))
    return tuple(out)


def _number(m: dict[str, Any], key: str) -> int:
    v = m.get(key, 0)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 99:
        raise ParseError(f"field {key!r} must be a number from 1 to 99 (its place in the "
                         "catalogue's list)")
    return v


def _notice(m: dict[str, Any]) -> DocumentRequest:
    return DocumentRequest(DocKind.NOTICE, materials=_materials(m),
                           remarks=text_field(m, "remarks", required=False, limit=200),
                           deadline=text_field(m, "deadline", required=False, limit=10))


def _refusal(m: dict[str, Any]) -> DocumentRequest:
    return DocumentRequest(DocKind.REFUSAL, refusal=_number(m, "refusal"),
                           reason=text_field(m, "reason", required=False, limit=200),
                           basis=text_field(m, "basis", required=False, limit=400))


def _receipt(m: dict[str, Any]) -> DocumentRequest:
    return DocumentRequest(DocKind.RECEIPT,
                           promised_date=text_field(m, "promised_date", required=False,
                                                    limit=10),
                           pickup=text_field(m, "pickup", required=False, limit=60))


def _referral(m: dict[str, Any]) -> DocumentRequest:
    return DocumentRequest(DocKind.REFERRAL, to=text_field(m, "to", limit=64, nonempty=True),
                           matter=text_field(m, "matter", required=False, limit=100))


def _intake(m: dict[str, Any]) -> DocumentRequest:
    return DocumentRequest(DocKind.INTAKE, materials=_materials(m, "received"),
                           remarks=text_field(m, "remarks", required=False, limit=200))


def _home_visit(m: dict[str, Any]) -> DocumentRequest:
    named = [k for k in _PERSONAL if k in m]
    if named:
        raise ParseError(f"field {named[0]!r} is not taken: a home visit records no address, "
                         "name or phone (personal data stays on the workstation); send only "
                         "date, slot and need")
    slot = text_field(m, "slot", limit=11, nonempty=True)
    parse_slot(slot)
    need = text_field(m, "need", limit=16, nonempty=True)
    if need not in set(Need):
        raise ParseError(f"field 'need' {need!r} must be one of "
                         + ", ".join(n.value for n in Need))
    return DocumentRequest(DocKind.HOME_VISIT,
                           visit_date=text_field(m, "date", limit=10, nonempty=True),
                           slot=slot, need=Need(need))


def _promise_change(m: dict[str, Any]) -> PromiseChange:
    return PromiseChange(case_no_field(m, required=True),
                         text_field(m, "new_date", limit=10, nonempty=True),
                         text_field(m, "reason", limit=100, nonempty=True))


DOCUMENT_OPS: dict[str, Callable[[dict[str, Any]], Request]] = {
    "notice": _notice,
    "refusal": _refusal,
    "receipt": _receipt,
    "referral": _referral,
    "intake": _intake,
    "home_visit": _home_visit,
    "promise_change": _promise_change,
}


def calendar_of(core: Core) -> WorkCalendar:
    """chinese-calendar's years overlaid by the holidays HQ published to this counter."""
    stored = core.store.site_content("holidays")
    return work_calendar(stored.body if stored is not None else None)


def in_context(core: Core, catalogue: Catalogue, request: Request) -> Intent:
    """A document request made into its document for the open case (the other intents
    pass through); ParseError naming the field and the fix."""
    now = datetime.fromtimestamp(core.clock(), ZoneInfo(core.config.device.timezone))
    if isinstance(request, PromiseChange):
        promised_date(request.new_date, None, calendar_of(core), now.date())
        return request
    if not isinstance(request, DocumentRequest):
        return request
    s = core.state
    if s.mode is not Mode.SERVING:
        what = ("an " if request.kind is DocKind.INTAKE else "a ") + request.kind.value
        raise ParseError(f"{what} needs an open case (the counter is "
                         f"{s.mode.value}): send case_start first")
    cfg = core.config
    officer = cfg.officer(s.officer) if s.officer else None
    case = Case(case_no=s.case_no, service=s.service, officer=s.officer,
                officer_text=f"{officer.name}（{officer.badge}）" if officer else s.officer,
                station=cfg.window.station, window=str(cfg.window.number),
                consult_phone=cfg.window.consult_phone,
                complaint_phone=cfg.window.complaint_phone, guide_url=cfg.window.guide_url)
    return ShowDocument(build(request, case, catalogue, calendar_of(core), now))

