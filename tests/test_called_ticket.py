"""A called ticket and the case it opens: the case serves that ticket's service and number,
everything is on disk in one commit before anything shows it, and the number being
served clears when the case ends and at midnight (issue 9, items 2, 3 and 6)."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from device.config import Config
from device.core import Change, Core
from device.counter import Mode
from device.errors import StoreError
from device.intents import CaseEnd, Press, Tick
from device.queue import QueueDesk
from device.store import Store
from drivers.link import handle_line
from drivers.sign import SignDriver
from kiosk.build import build_counter
from tests.conftest import FakeClock


def _events(store: Store, etype: str) -> list[dict]:
    return [json.loads(b) for (b,) in store.query(
        "SELECT body FROM events WHERE type = ? ORDER BY seq", (etype,))]



def _sign_ticket(sign: SignDriver) -> str:
    assert sign.wait_idle(5) and sign.sim is not None
    return sign.sim.emulator.text("ticket")


def test_next_press_opens_the_case_of_the_called_ticket(core: Core, store: Store,
                                                       desk: QueueDesk) -> None:
    desk.issue_ticket("hukou.birth")
    desk.issue_ticket("hukou.birth")
    desk.issue_ticket("id_card.renew")  # A003
    changes: list[Change] = []
    core.subscribe(changes.append)
    for _ in range(3):
        core.submit(Press("next"))
        core.submit(CaseEnd())
        core.submit(Press("satisfied"))
    started = [e["data"] for e in _events(store, "case.started")]
    assert [(d["ticket"], d["service"]) for d in started] == [
        ("A001", "hukou.birth"), ("A002", "hukou.birth"), ("A003", "id_card.renew")]
    ended = [e["data"] for e in _events(store, "case.ended")]
    assert [(d["ticket"], d["service"]) for d in ended] == [
        (d["ticket"], d["service"]) for d in started]
    # The case and the call are one commit: observers see them in one change.
    first = next(c for c in changes if c.events)
    assert [e.type for e in first.events] == ["case.started", "ticket.called"]
    # With nobody waiting, the next press opens a walk-in case.
    core.submit(Press("next"))
    last = _events(store, "case.started")[-1]["data"]
    assert (last["service"], last["ticket"]) == ("walk_in", "")


def test_link_call_next_carries_the_ticket_service(core: Core, store: Store,
                                                  desk: QueueDesk) -> None:
    desk.issue_ticket("id_card.renew")
    reply = handle_line(core, '{"op": "call_next", "id": 7}')
    assert reply["ok"] and reply["state"] == "serving"
    assert core.state.service == "id_card.renew" and core.state.ticket == "A001"
    assert _events(store, "case.started")[0]["data"]["service"] == "id_card.renew"


def test_appointment_check_in_brings_its_service_into_the_case(core: Core, store: Store,
                                                              desk: QueueDesk) -> None:
    desk.issue_ticket("id_card.renew")
    checked = desk.check_in("20261002")  # demo appointment: hukou.birth, with priority
    assert checked.ok and checked.ticket is not None
    core.submit(Press("next"))
    data = _events(store, "case.started")[0]["data"]
    assert (data["ticket"], data["service"]) == (checked.ticket.number, "hukou.birth")
    called = _events(store, "ticket.called")[0]
    assert called["data"]["number"] == checked.ticket.number


def test_called_number_clears_when_the_case_ends(core: Core, desk: QueueDesk,
                                                 sign: SignDriver) -> None:
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))
    assert desk.called is not None and desk.called.number == "A001"
    assert _sign_ticket(sign) == "A001"
    core.submit(CaseEnd())
    assert desk.called is None and core.state.ticket == ""
    assert _sign_ticket(sign) == ""
    core.submit(Press("satisfied"))
    core.submit(Press("away"))  # the away board shows no number either
    assert desk.called is None and _sign_ticket(sign) == ""


def test_called_number_clears_at_local_midnight(core: Core, config: Config, desk: QueueDesk,
                                                clock: FakeClock, sign: SignDriver) -> None:
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))
    assert _sign_ticket(sign) == "A001"
    tz = ZoneInfo(config.device.timezone)
    local = datetime.fromtimestamp(clock.now, tz)
    midnight = local.replace(hour=0, minute=0, second=0).timestamp() + 86400
    clock.now = midnight - 1
    core.submit(Tick(clock.now))
    assert desk.called is not None  # 23:59:59 the same day: still being served
    changes: list[Change] = []
    core.subscribe(changes.append)
    clock.now = midnight + 1
    core.submit(Tick(clock.now))
    assert desk.called is None and core.state.ticket == ""
    assert core.state.mode is Mode.SERVING  # the case itself stays open
    assert changes and changes[-1].after.ticket == "" and changes[-1].events == ()
    assert _sign_ticket(sign) == ""
    assert core.store.load_state()["ticket"] == ""  # type: ignore[index]


def test_called_ticket_survives_a_restart_while_serving(core: Core, config: Config,
                                                       store: Store, desk: QueueDesk,
                                                       clock: FakeClock) -> None:
    desk.issue_ticket("id_card.renew")
    core.submit(Press("next"))
    again = build_counter(config, store=store, clock=clock, with_drivers=False)
    assert again.desk.called is not None and again.desk.called.number == "A001"


def test_failed_call_commit_shows_no_ticket(core: Core, store: Store,
                                            desk: QueueDesk) -> None:
    desk.issue_ticket("id_card.renew")
    seen: list[str] = []
    core.subscribe(lambda ch: seen.extend(
        str(e.data.get("number")) for e in ch.events if e.type == "ticket.called"))
    # The disk refuses the ticket's called mark (a real SQLite failure in that write).
    store.conn.execute("CREATE TEMP TRIGGER refuse_call BEFORE UPDATE ON queue_tickets "
                       "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
    with pytest.raises(StoreError):
        core.submit(Press("next"))
    assert desk.called is None and seen == []
    assert core.state.mode is Mode.IDLE and core.state.ticket == ""
    assert _events(store, "case.started") == [] and _events(store, "ticket.called") == []
    assert [t.number for t in desk.waiting()] == ["A001"]  # still waiting, never called
    store.conn.execute("DROP TRIGGER refuse_call")
    core.submit(Press("next"))
    assert desk.called is not None and desk.called.number == "A001" and seen == ["A001"]
