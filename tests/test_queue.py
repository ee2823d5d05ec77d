"""The queue desk on a real SQLite file: numbering, priorities, check-in, calling."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest

from device.comments import monthly_satisfaction, submit_comment
from device.config import Config
from device.core import Change
from device.errors import ParseError, StateError
from device.intents import CaseEnd, CaseStart, Press
from device.store import Store


def _events(store: Store, etype: str) -> list[dict]:
    return [json.loads(b) for (b,) in store.query(
        "SELECT body FROM events WHERE type = ? ORDER BY seq", (etype,))]


def _jobs(store: Store) -> list[tuple[str, dict]]:
    return [(k, json.loads(b)) for k, b in store.query(
        "SELECT kind, body FROM print_jobs ORDER BY id")]


@pytest.fixture
def green_config(config: Config) -> Config:
    return dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, green_channel=("migrant_worker", "veteran")))


def test_tickets_are_numbered_per_day_with_event_and_print_job(desk, store, clock):
    a = desk.issue_ticket("id_card.renew")
    b = desk.issue_ticket("hukou.birth")
    assert (a.number, a.people_ahead, a.est_wait_min) == ("A001", 0, 0)
    assert (b.number, b.people_ahead, b.est_wait_min) == ("A002", 1, 8)
    issued = _events(store, "ticket.issued")
    assert [e["data"]["number"] for e in issued] == ["A001", "A002"]
    assert issued[1]["data"]["service"] == "hukou.birth"
    kind, data = _jobs(store)[1]
    assert kind == "ticket"
    assert data["number"] == "A002" and data["service_name"] == "出生登记"
    assert data["people_ahead"] == 1 and data["est_wait_min"] == 8 and data["window"] == 1
    assert data["issued_at"] == "2026-11-26 09:00" and data["green_channel"] is False
    clock.advance(86400)  # the next day starts again at 001
    assert desk.issue_ticket("id_card.renew").number == "A001"


def test_unknown_service_and_closed_group_are_refused(desk, store):
    with pytest.raises(StateError, match="not in catalogue"):
        desk.issue_ticket("no.such")
    with pytest.raises(StateError, match="not open"):
        desk.issue_ticket("id_card.renew", group="student")
    assert _events(store, "ticket.issued") == []


def test_green_channel_and_appointments_go_first(make_counter, store, green_config):
    counter = make_counter(green_config)
    core, desk = counter.core, counter.desk
    normal = desk.issue_ticket("id_card.renew")
    appt = desk.check_in("20261001")
    green = desk.issue_ticket("id_card.first", group="veteran")
    assert appt.ok and appt.ticket is not None
    assert appt.ticket.people_ahead == 0  # ahead of the normal ticket
    assert green.people_ahead == 0 and green.priority == 2
    assert desk.people_ahead(normal) == 2
    assert [t.number for t in desk.waiting()] == ["A003", "A002", "A001"]
    order = []
    for _ in range(3):
        order.append(desk.call_next().number)
        core.submit(CaseEnd())
        core.submit(Press("satisfied"))
    assert order == ["A003", "A002", "A001"]
    assert desk.call_next() is None
    called = _events(store, "ticket.called")
    assert [e["data"]["number"] for e in called] == ["A003", "A002", "A001"]
    assert called[0]["data"]["window"] == 1


def test_check_in_refusals_say_why_in_chinese(core, store, config, desk):
    assert "格式" in desk.check_in("12").message
    assert "未找到" in desk.check_in("99999999").message
    first = desk.check_in(" 20261002 ")
    assert first.ok and first.ticket and first.ticket.service == "hukou.birth"
    again = desk.check_in("20261002")
    assert not again.ok and first.ticket.number in again.message
    rows = _events(store, "appointment.checked_in")
    assert len(rows) == 1 and rows[0]["data"]["code"] == "20261002"
    assert rows[0]["data"]["source"] == "screen"


def test_scanner_refusal_is_announced_to_the_screen(core, desk):
    seen: list[Change] = []
    core.subscribe(seen.append)
    result = desk.check_in("99999999", source="scanner")
    assert not result.ok
    assert [c.notice for c in seen if c.notice] == [result.message]
    assert seen[-1].notice_kind == "error"


def test_appointments_from_hq_replace_the_demo_set(core, store, desk, config):
    other = sqlite3.connect(config.db_path)  # the sync process's own connection
    body = {"version": "7", "appointments": [
        {"code": "55550001", "service": "id_card.lost", "date": "2026-11-26"},
        {"code": "55550002", "service": "id_card.lost", "date": "2026-11-27"}]}
    with other:
        other.execute("INSERT INTO site_content VALUES ('appointments', '7', ?, 'now')",
                      (json.dumps(body),))
    other.close()
    assert not desk.check_in("20261001").ok  # demo codes are gone
    assert desk.check_in("55550001").ok
    tomorrow = desk.check_in("55550002")
    assert not tomorrow.ok and "2026-11-27" in tomorrow.message


def test_demo_appointments_only_when_enabled(make_counter, config):
    real = dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, demo_appointments=False))
    assert not make_counter(real).desk.check_in("20261001").ok


def test_next_button_calls_the_next_ticket_after_case_started(core, store, desk):
    desk.issue_ticket("id_card.renew")
    order: list[str] = []
    core.subscribe(lambda ch: order.extend(e.type for e in ch.events))
    core.submit(Press("next"))  # standalone: opens a case, calls A001
    assert order == ["case.started", "ticket.called"]
    assert desk.called is not None and desk.called.number == "A001"
    seqs = [e["seq"] for e in _events(store, "case.started") + _events(store, "ticket.called")]
    assert seqs == sorted(seqs)


def test_workstation_case_start_calls_nothing(core, store, desk):
    desk.issue_ticket("id_card.renew")
    core.submit(CaseStart("WS-1", "id_card.renew"))
    assert _events(store, "ticket.called") == []
    core.submit(Press("next"))  # ends the case: nothing called either
    assert _events(store, "ticket.called") == []


def test_next_with_empty_queue_records_only_the_case(core, store, desk):
    core.submit(Press("next"))
    assert len(_events(store, "case.started")) == 1
    assert _events(store, "ticket.called") == []


def test_last_called_survives_a_restart(core, config, store, desk, make_counter):
    desk.issue_ticket("id_card.renew")
    desk.call_next()
    again = make_counter(config).desk
    assert again.called is not None and again.called.number == "A001"


def test_comment_and_monthly_satisfaction(core, store, config, clock):
    for level in ("very_satisfied", "basic", "unsatisfied"):
        core.submit(Press("next"))
        core.submit(Press("next"))
        core.submit(Press(level))
    sat = monthly_satisfaction(store, config.device.timezone, clock())
    assert (sat.satisfied, sat.total, sat.text) == (2, 3, "66.7%")
    ev = submit_comment(core, ["praise", "waiting_time"], "13800138000", ref="ab12")
    row = _events(store, "comment.submitted")[0]
    assert row["id"] == ev.id
    assert row["data"]["categories"] == ["praise", "waiting_time"]
    assert row["data"]["callback_requested"] is True
    with pytest.raises(ParseError, match="phone"):
        submit_comment(core, ["praise"], "123")
    with pytest.raises(ParseError, match="unknown"):
        submit_comment(core, ["nope"])


def _hq_appointments(config: Config, *items: dict) -> None:
    other = sqlite3.connect(config.db_path)  # the sync process's own connection
    with other:
        other.execute("INSERT OR REPLACE INTO site_content VALUES ('appointments', '8', ?, 'now')",
                      (json.dumps({"version": "8", "appointments": list(items)}),))
    other.close()


def test_appointment_checks_in_only_inside_its_grace_window(core, store, desk, config, clock):
    # The clock is 09:00 local (T0). Grace: queue.appointment_grace_min = 15 (default).
    assert config.queue.appointment_grace_min == 15
    _hq_appointments(
        config,
        {"code": "66660001", "service": "id_card.renew", "date": "2026-11-26",
         "slot": "09:00-09:30"},
        {"code": "66660002", "service": "id_card.renew", "date": "2026-11-26",
         "slot": "10:00-10:30"},
        {"code": "66660003", "service": "id_card.renew", "date": "2026-11-26",
         "slot": "09:00-09:30"})
    early = desk.check_in("66660002")  # 09:00 for a 10:00 slot: opens at 09:45
    assert not early.ok and "09:45" in early.message and "直接取号" in early.message
    clock.advance(44 * 60)  # 09:44: the 09:00-09:30 slot is still in its grace
    assert desk.check_in("66660001").ok
    clock.advance(2 * 60)   # 09:46: 16 min after 09:30, and the 10:00 slot opens
    late = desk.check_in("66660003")
    assert not late.ok and "09:00-09:30 已过" in late.message and "不再优先" in late.message
    assert desk.check_in("66660002").ok
    # Nothing was recorded for a refusal: no priority ticket for the late one.
    rows = _events(store, "appointment.checked_in")
    assert [r["data"]["code"] for r in rows] == ["66660001", "66660002"]


def test_a_late_appointment_at_10_51_gets_no_priority(core, store, desk, config, clock):
    """The case of issue 9: a 09:00-09:30 appointment checked in at 10:51."""
    _hq_appointments(config, {"code": "66660009", "service": "id_card.renew",
                              "date": "2026-11-26", "slot": "09:00-09:30"})
    clock.advance((60 + 51) * 60)
    result = desk.check_in("66660009")
    assert not result.ok and result.ticket is None and "已过" in result.message
    assert _events(store, "ticket.issued") == []


def test_grace_window_of_zero_means_inside_the_slot_only(make_counter, config, clock):
    strict = dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, appointment_grace_min=0))
    desk = make_counter(strict).desk
    _hq_appointments(config, {"code": "66660010", "service": "id_card.renew",
                              "date": "2026-11-26", "slot": "09:00-09:30"})
    clock.advance(31 * 60)
    assert not desk.check_in("66660010").ok


def test_ticket_job_names_station_and_marks_an_appointment(make_counter, store, config, clock):
    cfg = dataclasses.replace(config, window=dataclasses.replace(
        config.window, station="示范派出所"))
    desk = make_counter(cfg).desk
    desk.check_in("20261001")
    desk.issue_ticket("hukou.birth")
    (_, appt), (_, plain) = _jobs(store)
    assert appt["appointment"] is True and appt["station"] == "示范派出所"
    assert plain["appointment"] is False and plain["green_channel"] is False


def test_grace_window_message_near_midnight_names_a_real_time() -> None:
    from datetime import datetime

    from device.queue import _outside_slot

    assert _outside_slot("00:05-00:30", datetime(2026, 11, 26, 0, 0), 15) == ""
    assert _outside_slot("", datetime(2026, 11, 26, 23, 0), 15) == ""  # no slot: not checked
    assert "08:45" in _outside_slot("09:00-09:30", datetime(2026, 11, 26, 8, 0), 15)
