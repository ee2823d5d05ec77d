"""StationBook against the protocol responder on a real Mosquitto: a call through the
station gives the counter the events of its own queue, the queue controls act on the
station's ticket, the away board routes to the backup, and when the station is stopped
each device numbers from its own block (stored before it prints) and reconciles once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from device.intents import CallTicket, CaseEnd, NoShow, Press, Recall
from kiosk.build import build_counter
from tests.station.conftest import Device
from tests.station.responder import Responder

Make = Callable[..., Device]


def _called_events(d: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(e["type"], e["data"]) for e in d.events()
            if e["type"] in ("case.started", "ticket.called")]


def test_a_call_through_the_station_gives_the_counters_own_events(
        device: Make, responder: Responder, config: Any, clock: Any) -> None:
    # The standalone counter, on its own queue.
    local = build_counter(config, clock=clock, with_drivers=False)
    local.core.start()
    local.desk.issue_ticket("id_card.renew")
    local.core.submit(Press("next"))
    # The station: the entrance issues, window 1 calls.
    entrance = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    ticket = entrance.desk.issue_ticket("id_card.renew")
    assert (ticket.number, ticket.windows, ticket.fallback) == ("A001", (1, 2), False)
    w1.core.submit(Press("next"))
    try:
        ours, theirs = _called_events(local.store), _called_events(w1.counter.store)
        assert [t for t, _ in ours] == [t for t, _ in theirs] == ["case.started",
                                                                  "ticket.called"]
        for (_, a), (_, b) in zip(ours, theirs, strict=True):
            assert set(a) == set(b)
            same = {k: v for k, v in a.items() if k not in ("case_no",)}
            assert same == {k: b[k] for k in same}
        assert w1.core.state.ticket == "A001" == local.core.state.ticket
        assert w1.desk.called is not None and w1.desk.called.number == "A001"
        assert responder.tickets[0].called == 1
    finally:
        local.close()


def test_a_call_the_counter_did_not_record_is_served_at_the_next_press(
        device: Make, responder: Responder) -> None:
    entrance = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    entrance.desk.issue_ticket("id_card.renew")
    entrance.desk.issue_ticket("id_card.renew")
    # The station commits window 1's call of A001; the counter is killed before its own
    # commit (or the commit fails): the station counts A001 called at window 1, the
    # counter is idle and has no record of it.
    station = w1.counter.station
    assert station is not None
    resp = station.client.request("call_next", window=1)
    assert resp is not None and resp["ticket"]["number"] == "A001"
    assert w1.events("ticket.called") == []
    # The next press is not refused for ever ("window 1 still serves A001"): A001 is
    # called again and served, A002 still waits.
    w1.core.submit(Press("next"))
    assert w1.core.state.ticket == "A001"
    (called,) = w1.events("ticket.called")
    assert (called["number"], called["resumed"]) == ("A001", True)
    assert [r["op"] for r in responder.requests[-2:]] == ["call_next", "recall"]
    assert [t.number for t in responder.tickets if not t.called] == ["A002"]


def test_queue_controls_and_the_end_of_a_case_reach_the_station(
        device: Make, responder: Responder) -> None:
    e = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    for service in ("id_card.renew", "id_card.first", "id_card.renew"):
        e.desk.issue_ticket(service)
    assert w1.core.submit(CallTicket("A002")).ok
    assert w1.core.state.ticket == "A002"
    assert w1.core.submit(Recall()).ok
    assert w1.events("ticket.recalled")[-1]["count"] == 1
    assert w1.core.submit(NoShow()).ok
    assert w1.events("ticket.no_show")[-1]["number"] == "A002"
    refused = w1.core.submit(CallTicket("A002"))
    assert refused.refused is not None and "not waiting" in refused.reason
    w1.core.submit(Press("next"))  # A001
    w1.core.submit(CaseEnd())
    assert responder.wait(lambda: len(responder.ops("done")) == 1)
    assert responder.tickets[0].done


def test_away_routes_the_windows_tickets_to_its_backup_and_back(
        device: Make, responder: Responder) -> None:
    e = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    w2 = device("w02", window=2, prefix="W2")
    e.desk.issue_ticket("id_card.first")  # only window 1 serves it
    w1.core.submit(Press("away"))
    assert responder.wait(lambda: 1 in responder.away)
    assert responder.ops("away")[0]["backup"] == w1.counter.config.staff.backup_window
    w2.core.submit(Press("next"))
    assert w2.core.state.ticket == "A001"  # served by the backup
    w1.core.submit(Press("away"))
    assert responder.wait(lambda: 1 not in responder.away)


def test_fallback_blocks_do_not_overlap_are_stored_before_printing_and_reconcile_once(
        device: Make, responder: Responder) -> None:
    e = device("e01", role="entrance", prefix="E")
    w1 = device("w01", window=1, prefix="W1")
    w2 = device("w02", window=2, prefix="W2")
    e.desk.issue_ticket("id_card.first")  # A001, from the station: window 1's only
    responder.stop()  # the station process is gone; the broker stays
    issued: dict[str, list[str]] = {}
    for d, n in ((e, 3), (w1, 2), (w2, 2)):
        for _ in range(n):
            t = d.desk.issue_ticket("id_card.renew")
            assert t.fallback
            issued.setdefault(d.counter.config.device.id, []).append(t.number)
            store = d.counter.store
            row = store.ticket_numbered(d.desk.today(), t.number)
            job = store.query("SELECT id FROM print_jobs WHERE body LIKE ?",
                              (f'%"{t.number}"%',))
            assert row is not None and job, "stored with its print job in one commit"
    assert issued == {"e01": ["E001", "E002", "E003"], "w01": ["W1001", "W1002"],
                      "w02": ["W2001", "W2002"]}
    numbers = [n for ns in issued.values() for n in ns]
    assert len(numbers) == len(set(numbers))
    # The window calls its own block while the station is away.
    w1.core.submit(Press("next"))
    assert w1.core.state.ticket == "W1001"
    assert w1.events("ticket.called")[-1]["number"] == "W1001"

    responder.start()  # the station is back: every device reconciles, each ticket once
    assert responder.wait(lambda: sorted(responder.reconciled) == sorted(numbers), 20), \
        responder.reconciled
    for d in (e, w1, w2):
        assert d.link is not None and d.link.reconciled.wait(10)
        assert d.counter.station is not None and d.counter.station.pending() == []
    assert len(responder.reconciled) == len(set(responder.reconciled))
    # Each block ticket names the station request it stands in for, so a station that took
    # that request after all (its answer lost) voids what it issued for it.
    sent = [t for r in responder.ops("reconcile") for t in r["tickets"]]
    assert sent and all(len(t["replaces"]) == 36 for t in sent)
    called = next(t for t in responder.tickets if t.number == "W1001")
    assert called.called == 1  # it was called at window 1, and the station knows
    # The blocks' waiting tickets are the station's to call now (all issued at the
    # same instant of the fake clock: whichever it took first).
    w2.core.submit(Press("next"))
    served = w2.core.state.ticket
    assert served in {"E001", "E002", "E003", "W2001", "W2002"}
    assert next(t for t in responder.tickets if t.number == served).called == 2
    # Nothing more is sent: a further reconcile has nothing.
    assert e.counter.station is not None and e.counter.station.reconcile() is None


def test_the_registry_wires_each_role(device: Make, responder: Responder) -> None:
    """With every (simulated) driver: the entrance has no pad, link or sign; the window
    has them all; both reach the station through their station link."""
    e = device("e01", role="entrance", prefix="E", drivers=True)
    w1 = device("w01", window=1, prefix="W1", drivers=True)
    assert {"press", "link", "sign"}.isdisjoint(e.commands)
    assert {"scan", "printer", "sound", "station"} <= set(e.commands)
    assert {"press", "link", "sign", "printer", "station"} <= set(w1.commands)
    assert e.desk.issue_ticket("id_card.renew").number == "A001"
    reply = w1.commands["press"]({"button": "next"})
    assert reply["ok"], reply
    assert w1.core.state.ticket == "A001"
    station = w1.commands["station"]({})
    assert station["ok"] and station["connected"] and station["pending"] == []
