"""The link's queue controls (recall, no_show, call, transfer) on a real counter and SQLite
file: what each records (events, ticket rows, the reply), the no-show requeue rule, and
that every refusal leaves the journal, the tickets table and the state as they were."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from device.config import Config, LinkSection
from device.core import Core
from device.intents import Press
from device.queue import QueueDesk
from device.store import Store
from drivers import registry
from drivers.link import LinkSession, handle_line
from drivers.sound import call_clips
from kiosk.build import Counter
from tests.serial_helpers import FakeDevice, Pty

ROOT = Path(__file__).resolve().parent.parent


def _send(core: Core, op: str, **fields: Any) -> dict[str, Any]:
    return handle_line(core, json.dumps({"op": op, **fields}))


def _events(store: Store, etype: str) -> list[dict[str, Any]]:
    return [json.loads(b)["data"] for (b,) in store.query(
        "SELECT body FROM events WHERE type = ? ORDER BY seq", (etype,))]


def _journal(store: Store) -> list[tuple[int, str]]:
    return list(store.query("SELECT seq, type FROM events ORDER BY seq"))


def _tickets(store: Store) -> list[tuple[Any, ...]]:
    return list(store.query("SELECT * FROM queue_tickets ORDER BY id"))


def _waiting(desk: QueueDesk) -> list[str]:
    return [t.number for t in desk.waiting()]


def _issue(desk: QueueDesk, n: int, service: str = "id_card.renew") -> None:
    for _ in range(n):
        desk.issue_ticket(service)


def _serve(core: Core) -> None:
    """End the open case and rate it, so the counter is idle again."""
    assert _send(core, "case_end")["ok"]
    assert core.submit(Press("satisfied")).ok


# ------------------------------------------------------------------ accepted


def test_recall_calls_the_served_ticket_again(core: Core, desk: QueueDesk,
                                              store: Store) -> None:
    _issue(desk, 2)
    assert _send(core, "call_next")["ok"]
    first, second = _send(core, "recall", id=1), _send(core, "recall")
    assert first["ok"] and first["state"] == "serving" and first["id"] == 1
    assert [first["seq"], second["seq"]] == [[_journal(store)[-2][0]], [_journal(store)[-1][0]]]
    recalled = _events(store, "ticket.recalled")
    assert [(r["number"], r["count"], r["window"]) for r in recalled] == [
        ("A001", 1, 1), ("A001", 2, 1)]
    assert recalled[0]["case_no"] == core.state.case_no  # the case goes on
    assert desk.book.store.ticket_numbered(desk.today(), "A001")["recalls"] == 2
    assert desk.called is not None and desk.called.number == "A001"


def test_a_recall_is_announced_again(core: Core, desk: QueueDesk, config: Config) -> None:
    sound = registry.sound(config.sound, window=3)
    sound.start(core)
    try:
        _issue(desk, 1)
        assert _send(core, "call_next")["ok"] and _send(core, "recall")["ok"]
        assert list(sound.played)[-2:] == [call_clips("A001", 1)] * 2
    finally:
        sound.close()


def test_no_show_closes_the_case_without_rating_and_requeues_then_drops(
        core: Core, desk: QueueDesk, store: Store) -> None:
    _issue(desk, 5)  # defaults: requeued once, behind 3 waiting tickets
    assert _send(core, "call_next")["ok"]
    case_no = core.state.case_no
    reply = _send(core, "no_show")
    assert reply["ok"] and reply["state"] == "idle" and len(reply["seq"]) == 1
    (shown,) = _events(store, "ticket.no_show")
    assert shown["number"] == "A001" and shown["case_no"] == case_no
    assert (shown["requeued"], shown["no_shows"], shown["ahead"]) == (True, 1, 3)
    # No rating is asked and no case is counted as served.
    assert _events(store, "case.ended") == [] and _events(store, "rating.skipped") == []
    assert core.state.ticket == "" and desk.called is None
    assert _waiting(desk) == ["A002", "A003", "A004", "A001", "A005"]
    # Called again and not there again: dropped for the day.
    assert _send(core, "call", number="A001")["ok"]
    assert _send(core, "no_show")["ok"]
    dropped = _events(store, "ticket.no_show")[-1]
    assert (dropped["requeued"], dropped["no_shows"]) == (False, 2)
    assert _waiting(desk) == ["A002", "A003", "A004", "A005"]
    refused = _send(core, "call", number="A001")
    assert refused["error"] == ("ticket A001 is not waiting: it was dropped after 2 "
                                "no-shows; waiting: A002, A003, A004, A005")


@pytest.mark.parametrize(("requeue", "after", "waiting"), [
    (0, 3, ["A002", "A003"]),  # dropped at once
    (1, 5, ["A002", "A003", "A001"]),  # fewer wait than 5: at the end
    (1, 0, ["A001", "A002", "A003"]),  # back where it was
    (1, 1, ["A002", "A001", "A003"]),
])
def test_the_requeue_rule_is_configured(make_counter: Callable[[Config], Counter],
                                        config: Config, store: Store, requeue: int,
                                        after: int, waiting: list[str]) -> None:
    cfg = dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, no_show_requeue=requeue, no_show_requeue_after=after))
    kiosk = make_counter(cfg)
    _issue(kiosk.desk, 3)
    assert _send(kiosk.core, "call_next")["ok"] and _send(kiosk.core, "no_show")["ok"]
    assert _waiting(kiosk.desk) == waiting
    assert [t.people_ahead for t in kiosk.desk.waiting()] == list(range(len(waiting)))


def test_call_out_of_order_then_next_keeps_priority_order(
        make_counter: Callable[[Config], Counter], config: Config, store: Store) -> None:
    cfg = dataclasses.replace(config, queue=dataclasses.replace(
        config.queue, green_channel=("veteran",)))
    kiosk = make_counter(cfg)
    core, desk = kiosk.core, kiosk.desk
    _issue(desk, 2)
    desk.issue_ticket("hukou.birth", group="veteran")  # A003 goes first
    reply = _send(core, "call", number="A002")
    assert reply["ok"] and reply["state"] == "serving" and len(reply["seq"]) == 2
    started = _events(store, "case.started")[0]
    assert (started["ticket"], started["service"]) == ("A002", "id_card.renew")
    called = _events(store, "ticket.called")[0]
    assert (called["number"], called["out_of_order"], called["skipped"]) == ("A002", True, 2)
    _serve(core)
    assert _send(core, "call_next")["ok"] and core.state.ticket == "A003"
    _serve(core)
    assert _send(core, "call_next")["ok"] and core.state.ticket == "A001"


def test_transfer_to_service_changes_what_next_calls(core: Core, desk: QueueDesk,
                                                     store: Store) -> None:
    _issue(desk, 2)
    reply = _send(core, "transfer", number="A001", service="hukou.birth")
    assert reply["ok"] and reply["state"] == "idle" and len(reply["seq"]) == 1
    (moved,) = _events(store, "ticket.transferred")
    assert (moved["number"], moved["from_service"], moved["to_service"]) == (
        "A001", "id_card.renew", "hukou.birth")
    assert _send(core, "call_next")["ok"]
    assert (core.state.ticket, core.state.service) == ("A001", "hukou.birth")


def test_transfer_of_the_called_ticket_before_service_starts(core: Core, desk: QueueDesk,
                                                             store: Store) -> None:
    _issue(desk, 2)
    assert _send(core, "call_next")["ok"]
    case_no = core.state.case_no
    reply = _send(core, "transfer", number="A001", service="hukou.birth")
    assert reply["ok"] and reply["state"] == "idle"
    moved = _events(store, "ticket.transferred")[0]
    assert moved["case_no"] == case_no and moved["to_service"] == "hukou.birth"
    assert _events(store, "case.ended") == [] and _events(store, "rating.given") == []
    # Back where it stood, so the next call serves it with the right service.
    assert _waiting(desk) == ["A001", "A002"]
    assert _send(core, "call_next")["ok"]
    assert (core.state.ticket, core.state.service) == ("A001", "hukou.birth")
    # Once fields were shown, the service has begun: the case ends with its rating.
    assert _send(core, "field", key="name", label="姓名", value="张三")["ok"]
    before = (_journal(store), _tickets(store), core.state)
    refused = _send(core, "transfer", number="A001", window=3)
    assert refused["ok"] is False and "has begun" in refused["error"]
    assert (_journal(store), _tickets(store), core.state) == before


def test_transfer_to_window_removes_it_from_this_queue(core: Core, desk: QueueDesk,
                                                       store: Store) -> None:
    _issue(desk, 2)
    assert _send(core, "transfer", number="A001", window=3)["ok"]
    (moved,) = _events(store, "ticket.transferred")
    assert (moved["number"], moved["to_window"]) == ("A001", 3)
    assert _waiting(desk) == ["A002"]
    assert _send(core, "call_next")["ok"] and core.state.ticket == "A002"
    _serve(core)
    assert _send(core, "call", number="A001")["error"] == (
        "ticket A001 is not waiting: it was handed to window 3; waiting: none")
    # The called ticket can be handed over too: its case closes, the counter is idle.
    desk.issue_ticket("id_card.renew")
    assert _send(core, "call_next")["ok"] and core.state.ticket == "A003"
    assert _send(core, "transfer", number="A003", window=2)["state"] == "idle"
    assert _waiting(desk) == []


# ------------------------------------------------------------------ refused

# (lines that set the scene, the refused line, a piece of its error)
REFUSED: list[tuple[list[dict[str, Any]], dict[str, Any], str]] = [
    ([], {"op": "recall"}, "no ticket is being served"),
    ([], {"op": "no_show"}, "no ticket is being served"),
    ([{"op": "case_start", "case_no": "C-1", "service": "id_card.renew"}],
     {"op": "no_show"}, "no ticket is being served"),  # a case of the workstation's own
    ([], {"op": "call", "number": "A007"},
     "no waiting ticket A007 today; waiting: A001, A002"),
    ([{"op": "call_next"}, {"op": "case_end"}], {"op": "call", "number": "A001"},
     "the counter is rating: a ticket is called when it is idle"),
    ([{"op": "call_next"}], {"op": "call", "number": "A002"}, "the counter is serving"),
    ([{"op": "away", "reason": "开会", "return_at": "23:59"}], {"op": "call", "number": "A001"},
     "the counter is away"),
    ([{"op": "call_next"}], {"op": "transfer", "number": "A003", "window": 2},
     "no waiting ticket A003 today; waiting: A002"),
    ([{"op": "call_next"}, {"op": "case_end"}], {"op": "transfer", "number": "A001",
                                                 "window": 2},
     "ticket A001 is not waiting: it was already called; waiting: A002"),
    ([], {"op": "transfer", "number": "A001", "service": "no.such"},
     "service 'no.such' is not in the catalogue (version "),
    ([], {"op": "transfer", "number": "A001", "service": "id_card.renew"},
     "ticket A001 is already for service id_card.renew"),
    ([], {"op": "transfer", "number": "A001", "window": 1}, "this counter's own window"),
    ([], {"op": "call"}, "missing field 'number'"),
    ([], {"op": "call", "number": "A-1"}, "must be a ticket number as printed"),
    ([], {"op": "call", "number": 7}, "field 'number' must be a string"),
    ([], {"op": "transfer", "number": "A001"}, "not neither"),
    ([], {"op": "transfer", "number": "A001", "service": "hukou.birth", "window": 2},
     "not both"),
    ([], {"op": "transfer", "number": "A001", "window": 0}, "between 1 and 99"),
    ([], {"op": "transfer", "number": "A001", "window": 100}, "between 1 and 99"),
    ([], {"op": "transfer", "number": "A001", "window": "3"}, "must be an integer"),
    ([], {"op": "transfer", "number": "A001", "service": "Hukou Birth"},
     "must be a catalogue code"),
]


@pytest.mark.parametrize(("scene", "line", "error"), REFUSED,
                         ids=[f"{i}-{c[1]['op']}" for i, c in enumerate(REFUSED)])
def test_a_refusal_names_the_problem_and_changes_nothing(
        core: Core, desk: QueueDesk, store: Store, scene: list[dict[str, Any]],
        line: dict[str, Any], error: str) -> None:
    _issue(desk, 2)
    for step in scene:
        assert handle_line(core, json.dumps(step))["ok"], step
    before = (_journal(store), _tickets(store), core.state)
    reply = handle_line(core, json.dumps({**line, "id": "r1"}))
    assert reply["ok"] is False and reply["id"] == "r1"
    assert error in reply["error"], reply["error"]
    assert "seq" not in reply
    assert (_journal(store), _tickets(store), core.state) == before


def test_the_unknown_service_refusal_lists_the_codes(core: Core, desk: QueueDesk) -> None:
    _issue(desk, 1)
    error = _send(core, "transfer", number="A001", service="no.such")["error"]
    codes = [s.code for s in desk.catalogue.current().services]
    assert error.endswith("use one of " + ", ".join(codes))


def test_an_unknown_op_lists_the_queue_ops(core: Core) -> None:
    error = _send(core, "nope")["error"]
    assert all(op in error for op in ("recall", "no_show", "call", "transfer"))


def test_the_sample_client_runs_the_queue_controls(core: Core, desk: QueueDesk,
                                                   store: Store) -> None:
    """tools/workstation_client.py --queue-demo over a real tty, the test playing the
    counter on the pty master with the session the serial link runs."""
    _issue(desk, 3)
    pty = Pty()
    fake = FakeDevice(pty, LinkSession(core, LinkSection()).process)
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "workstation_client.py"), pty.path,
             "--queue-demo"], capture_output=True, text=True, timeout=60)
    finally:
        fake.stop()
        pty.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t for (t,) in store.query(
        "SELECT type FROM events WHERE type LIKE 'ticket.%' AND type != 'ticket.issued' "
        "ORDER BY seq")] == ["ticket.called", "ticket.recalled", "ticket.no_show",
                             "ticket.called", "ticket.transferred"]
    assert _waiting(desk) == ["A001"]


def test_a_no_show_withdraws_a_document_never_confirmed(core: Core, desk: QueueDesk,
                                                        store: Store) -> None:
    _issue(desk, 1)
    assert _send(core, "call_next")["ok"]
    assert _send(core, "notice", materials=[1])["ok"]  # on the mirror, not confirmed
    assert _send(core, "transfer", number="A001", window=3)["error"].endswith(
        "has begun (a field or document was shown): end it instead")
    reply = _send(core, "no_show")
    assert reply["ok"] and len(reply["seq"]) == 2 and core.state.document is None
    assert [t for _, t in _journal(store)[-2:]] == ["document.withdrawn", "ticket.no_show"]


def test_kiosk_sim_link_takes_the_queue_controls(core: Core, desk: QueueDesk,
                                                 config: Config) -> None:
    """`kiosk sim link` goes through the simulated serial link's reader thread, framing
    and parser: the queue ops need nothing of their own there."""
    link = registry.link(config.link)
    link.start(core)
    try:
        sim = link.control_commands()["link"]
        _issue(desk, 2)
        assert sim({"line": '{"op":"call","number":"A002","id":1}'})["reply"] == {
            "ok": True, "state": "serving", "id": 1, "seq": [3, 4]}
        refused = sim({"line": '{"op":"call","number":"A001"}'})["reply"]
        assert refused["error"] == "the counter is serving: a ticket is called when it is idle"
    finally:
        link.close()
