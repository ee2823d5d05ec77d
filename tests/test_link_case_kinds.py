"""The link's intake (户口代办) and home_visit (上门服务) ops on a real core, ticket book
and SQLite store: shown, issued with their print job on the citizen's 确认, refused without
a trace; an issued intake is in the registration queue on its handover date (across a
weekend, across National Day and onto its make-up Saturday) and in no queue before it;
calling it there records that it was handled."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from device.core import Core
from device.events import CRITICAL_TYPES, EventType
from device.intents import ConfirmDocument, Tick
from device.printjobs import PrintJob
from device.queue import QueueDesk
from drivers.link import handle_line
from drivers.printer.decode import decode_text
from drivers.printer.layout import WIDTH_DOTS, Profile, job_bytes
from drivers.sound import clips_for
from tests.conftest import FakeClock

TZ = ZoneInfo("Asia/Shanghai")


def send(core: Core, **line: Any) -> dict[str, Any]:
    return handle_line(core, json.dumps(line, ensure_ascii=False))


def at(clock: FakeClock, *when: int) -> None:
    clock.now = datetime(*when, tzinfo=TZ).timestamp()  # type: ignore[misc]


def events(core: Core, etype: str) -> list[dict[str, Any]]:
    return [e["data"] for e in core.store.events() if e["type"] == etype]


def jobs(core: Core) -> list[tuple[str, dict[str, Any]]]:
    return [(k, json.loads(b)) for k, b in
            core.store.query("SELECT kind, body FROM print_jobs ORDER BY id")]


def tickets(core: Core) -> list[tuple[Any, ...]]:
    return list(core.store.query(
        "SELECT day, number, service, intake, called_ts IS NOT NULL FROM queue_tickets "
        "ORDER BY id"))


def take_intake(core: Core, clock: FakeClock, case_no: str, *when: int) -> dict[str, Any]:
    """The duty officer takes the materials at ``when`` and the citizen confirms; the case
    then ends and its rating times out, so the counter is idle again."""
    at(clock, *when)
    assert send(core, op="case_start", case_no=case_no, service="hukou.birth")["ok"]
    reply = send(core, op="intake", materials=[1, 2], remarks="亲属代交")
    assert reply["ok"], reply
    outcome = core.submit(ConfirmDocument())
    assert outcome.ok, outcome.reason
    assert [e.type for e in outcome.events] == [EventType.DOCUMENT_ISSUED,
                                                EventType.INTAKE_QUEUED]
    assert send(core, op="case_end")["ok"]
    clock.advance(core.config.timeouts.rating_s + 1)
    core.submit(Tick(clock()))
    return dict(outcome.events[1].data)


def test_intake_is_shown_issued_printed_and_handed_on(core: Core, clock: FakeClock) -> None:
    at(clock, 2026, 11, 27, 19, 40)  # a Friday evening, after hours
    assert send(core, op="case_start", case_no="D-0001", service="hukou.birth")["ok"]
    reply = send(core, op="intake", materials=[1, "父母双方的居民户口簿（原件）"], id=3)
    assert reply["ok"] and reply["id"] == 3, reply
    doc = core.state.document
    assert doc is not None and doc.title == "户口代办受理回执" and jobs(core) == []
    assert tickets(core) == []  # shown, not confirmed: nothing handed on yet
    outcome = core.submit(ConfirmDocument())
    issued, queued = (e.data for e in outcome.events)
    assert issued["kind"] == "intake" and issued["handover_date"] == "2026-11-30"
    assert issued["materials"] == ["《出生医学证明》（原件）", "父母双方的居民户口簿（原件）"]
    assert dict(queued) == {"case_no": "D-0001", "service": "hukou.birth",
                            "officer": core.state.officer, "handover_date": "2026-11-30",
                            "number": "DB001"}
    # The receipt, the ticket and both events are one commit: all of them or none.
    assert tickets(core) == [("2026-11-30", "DB001", "hukou.birth", "D-0001", 0)]
    [(kind, body)] = jobs(core)
    assert kind == "intake" and body["handover_date"] == "2026年11月30日"
    for mm in (58, 80):
        text = decode_text(job_bytes(PrintJob(kind, body), Profile(WIDTH_DOTS[mm])))
        assert "户口代办受理回执" in text and "移交日期：2026年11月30日" in text
        assert "D-0001" in text and body["catalogue_version"] in text
    assert {EventType.INTAKE_QUEUED, EventType.INTAKE_CALLED} <= CRITICAL_TYPES


def test_across_a_weekend_it_waits_for_monday_and_is_called_there(
        core: Core, clock: FakeClock, desk: QueueDesk) -> None:
    queued = take_intake(core, clock, "D-0002", 2026, 11, 27, 19, 40)
    assert queued["handover_date"] == "2026-11-30"
    for day in (28, 29):  # Saturday and Sunday: in no queue, and `call` cannot reach it
        at(clock, 2026, 11, day, 9, 0)
        assert desk.waiting() == []
        reply = send(core, op="call", number="DB001")
        assert not reply["ok"] and "DB001" in reply["error"], reply
    at(clock, 2026, 11, 30, 8, 55)
    assert [t.number for t in desk.waiting()] == ["DB001"]
    # The day's citizens are numbered as ever: the intake does not take A001.
    assert desk.issue_ticket("id_card.renew").number == "A001"
    assert [t.number for t in desk.waiting()] == ["DB001", "A001"]
    assert send(core, op="call_next")["ok"]
    assert core.state.ticket == "DB001" and core.state.service == "hukou.birth"
    [called] = events(core, EventType.INTAKE_CALLED)
    assert called == {"case_no": "D-0002", "number": "DB001", "service": "hukou.birth",
                      "handover_date": "2026-11-30", "window": core.config.window.number}
    ticket_called = events(core, EventType.TICKET_CALLED)[-1]
    assert ticket_called["number"] == "DB001" and ticket_called["intake"] == "D-0002"
    # Nobody waits in the hall for it: the call is not announced.
    assert clips_for(EventType.TICKET_CALLED, ticket_called, 1) == []
    assert send(core, op="case_end")["ok"]
    clock.advance(core.config.timeouts.rating_s + 1)
    core.submit(Tick(clock()))
    assert send(core, op="call_next")["ok"] and core.state.ticket == "A001"
    citizen = events(core, EventType.TICKET_CALLED)[-1]
    assert "intake" not in citizen and clips_for(EventType.TICKET_CALLED, citizen, 1)
    assert len(events(core, EventType.INTAKE_CALLED)) == 1
    assert tickets(core)[0][-1] == 1  # marked called with the case it opened


def test_across_national_day_and_onto_the_make_up_saturday(
        core: Core, clock: FakeClock, desk: QueueDesk) -> None:
    # The eve of National Day (Oct 1-7 off): Thursday Oct 8.
    assert take_intake(core, clock, "D-0930", 2026, 9, 30, 18, 30)["handover_date"] == \
        "2026-10-08"
    # Taken during the holiday: Oct 8 too, the second one of that day.
    second = take_intake(core, clock, "D-1004", 2026, 10, 4, 11, 0)
    assert second == {**second, "handover_date": "2026-10-08", "number": "DB002"}
    # Friday Oct 9 evening: Saturday Oct 10 is a working day (调休).
    assert take_intake(core, clock, "D-1009", 2026, 10, 9, 19, 0)["handover_date"] == \
        "2026-10-10"
    for day in range(1, 8):
        at(clock, 2026, 10, day, 10, 0)
        assert desk.waiting() == [], day
    at(clock, 2026, 10, 8, 9, 0)
    assert [t.number for t in desk.waiting()] == ["DB001", "DB002"]
    # `call` reaches the second by its number.
    assert send(core, op="call", number="DB002")["ok"]
    assert [e["case_no"] for e in events(core, EventType.INTAKE_CALLED)] == ["D-1004"]
    at(clock, 2026, 10, 10, 9, 0)
    assert [t.number for t in desk.waiting()] == ["DB001"]
    assert [t.service for t in desk.waiting()] == ["hukou.birth"]
    assert ("2026-10-10", "DB001", "hukou.birth", "D-1009", 0) in tickets(core)


def test_a_withdrawn_intake_hands_nothing_on(core: Core, clock: FakeClock) -> None:
    at(clock, 2026, 11, 27, 19, 40)
    assert send(core, op="case_start", case_no="D-0003", service="hukou.birth")["ok"]
    assert send(core, op="intake", materials=[1])["ok"]
    assert send(core, op="case_end")["ok"]  # never confirmed: withdrawn, not printed
    assert tickets(core) == [] and jobs(core) == []
    assert events(core, EventType.INTAKE_QUEUED) == []


def test_home_visit_is_issued_and_printed_without_personal_data(core: Core) -> None:
    assert send(core, op="case_start", case_no="V-0001", service="id_card.renew")["ok"]
    reply = send(core, op="home_visit", date="2026-12-01", slot="09:00-11:00",
                 need="elderly")
    assert reply["ok"], reply
    outcome = core.submit(ConfirmDocument())
    [issued] = (e.data for e in outcome.events)
    assert dict(issued) == {"kind": "home_visit", "case_no": "V-0001",
                            "service": "id_card.renew", "officer": core.state.officer,
                            "catalogue_version": issued["catalogue_version"],
                            "visit_date": "2026-12-01", "slot": "09:00-11:00",
                            "need": "elderly"}
    [(kind, body)] = jobs(core)
    assert kind == "home_visit" and body["need"] == "老年人"
    text = decode_text(job_bytes(PrintJob(kind, body), Profile(WIDTH_DOTS[58])))
    assert "上门服务预约单" in text and "上门时段：09:00-11:00" in text
    assert tickets(core) == []  # a home visit is recorded, not queued


@pytest.fixture
def serving(core: Core) -> Core:
    assert send(core, op="case_start", case_no="C-0007", service="hukou.birth")["ok"]
    return core


@pytest.mark.parametrize(("line", "error"), [
    ({"op": "intake"}, "field 'materials' must be a non-empty list of the received"),
    ({"op": "intake", "materials": []}, "non-empty list"),
    ({"op": "intake", "materials": ["出生证"]}, "not in the catalogue list of hukou.birth"),
    ({"op": "intake", "materials": [9]}, "material number 9"),
    ({"op": "intake", "materials": [1], "remarks": "a\u202eb"}, "remarks"),
    ({"op": "intake", "materials": [1], "remarks": "440301199001011234"}, "remarks"),
    ({"op": "home_visit", "slot": "09:00-11:00", "need": "elderly"}, "'date'"),
    ({"op": "home_visit", "date": "2026-11-28", "slot": "09:00-11:00", "need": "elderly"},
     "date 2026-11-28 is not a working day; send a working day (the next is 2026-11-30)"),
    ({"op": "home_visit", "date": "2026-11-20", "slot": "09:00-11:00", "need": "elderly"},
     "in the past"),
    ({"op": "home_visit", "date": "2026-12-01", "slot": "9-11", "need": "elderly"},
     "slot '9-11' must be a time slot like 09:00-11:00"),
    ({"op": "home_visit", "date": "2026-12-01", "slot": "11:00-09:00", "need": "elderly"},
     "ends before it starts"),
    ({"op": "home_visit", "date": "2026-12-01", "need": "elderly"}, "'slot'"),
    ({"op": "home_visit", "date": "2026-12-01", "slot": "09:00-11:00", "need": "old"},
     "field 'need' 'old' must be one of elderly, disabled"),
    ({"op": "home_visit", "date": "2026-12-01", "slot": "09:00-11:00", "need": 1}, "'need'"),
    ({"op": "home_visit", "date": "2026-12-01", "slot": "09:00-11:00", "need": "elderly",
      "address": "幸福路1号"}, "field 'address' is not taken: a home visit records no address"),
])
def test_a_refused_case_kind_changes_nothing(serving: Core, line: dict[str, Any],
                                             error: str) -> None:
    before = serving.store.head()
    reply = send(serving, **line)
    assert not reply["ok"] and error in reply["error"], reply
    assert serving.store.head() == before and serving.state.document is None
    assert jobs(serving) == [] and tickets(serving) == []


@pytest.mark.parametrize("line", [{"op": "intake", "materials": [1]},
                                  {"op": "home_visit", "date": "2026-12-01",
                                   "slot": "09:00-11:00", "need": "disabled"}])
def test_case_kinds_need_an_open_case(core: Core, line: dict[str, Any]) -> None:
    reply = send(core, **line)
    assert not reply["ok"] and "needs an open case" in reply["error"], reply
    assert reply["error"].startswith(("an intake needs", "a home_visit needs"))
    assert "send case_start first" in reply["error"]
