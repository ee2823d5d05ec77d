"""The queue controls in every mode of the pure counter (the rows recall, no_show, call and
transfer of docs/counter-states.md). The ticket book's side (is the ticket waiting, which
service, which window) is tests/test_link_queue.py; here the book's answer is the
``call`` a cell hands the counter, or None when it has none."""

from __future__ import annotations

import pytest

from device.codes import Refusal
from device.counter import Call, Counter, Mode
from device.intents import (
    CallTicket,
    CaseStart,
    Intent,
    MirrorField,
    NoShow,
    Press,
    Recall,
    ShowDocument,
    Transfer,
)
from tests.conftest import T0
from tests.test_counter import SETTINGS, check_cell, counter_in, doc

DAY = "2026-11-26"
SERVED = Call("A001", "id_card.renew", DAY)
WAITING = Call("A002", "hukou.birth", DAY, {"from_service": "hukou.birth", "to_window": 3})


def queue_counter(mode: str) -> Counter:
    """``counter_in`` plus "called" (serving ticket A001), "called_fields" and
    "called_doc" (a field or a document of that case was shown: its service has begun)."""
    if mode not in ("called", "called_fields", "called_doc"):
        return counter_in(mode)
    c = Counter(SETTINGS)
    assert not c.handle(Press("next"), T0, SERVED).refused
    if mode == "called_fields":
        assert not c.handle(MirrorField("name", "姓名", "x"), T0).refused
    if mode == "called_doc":
        assert not c.handle(ShowDocument(doc(c.state.case_no)), T0).refused
    return c


# (start mode, input, the book's call, mode after, event types, refusal (None = taken))
CELLS: list[tuple[str, Intent, Call | None, str, list[str], Refusal | None]] = [
    ("idle", Recall(), None, "idle", [], Refusal.NO_CALLED_TICKET),
    ("idle", NoShow(), None, "idle", [], Refusal.NO_CALLED_TICKET),
    ("idle", CallTicket("A002"), WAITING, "serving", ["case.started"], None),
    ("idle", CallTicket("A002"), None, "idle", [], Refusal.TICKET_UNKNOWN),
    ("idle", Transfer("A002", window=3), WAITING, "idle", ["ticket.transferred"], None),
    ("idle", Transfer("A002", window=3), None, "idle", [], Refusal.TICKET_UNKNOWN),
    # serving a case the workstation opened (no ticket)
    ("serving", Recall(), None, "serving", [], Refusal.NO_CALLED_TICKET),
    ("serving", NoShow(), None, "serving", [], Refusal.NO_CALLED_TICKET),
    ("serving", CallTicket("A002"), None, "serving", [], Refusal.CALL_WHEN_IDLE),
    ("serving", Transfer("A002", window=3), WAITING, "serving", ["ticket.transferred"], None),
    # serving the called ticket A001
    ("called", Recall(), SERVED, "serving", ["ticket.recalled"], None),
    ("called", NoShow(), SERVED, "idle", ["ticket.no_show"], None),
    ("called", CallTicket("A002"), None, "serving", [], Refusal.CALL_WHEN_IDLE),
    ("called", Transfer("A001", service="hukou.birth"), SERVED, "idle",
     ["ticket.transferred"], None),
    ("called", Transfer("A002", window=3), WAITING, "serving", ["ticket.transferred"], None),
    ("called_fields", Transfer("A001", window=3), SERVED, "serving", [],
     Refusal.SERVICE_BEGUN),
    ("called_fields", NoShow(), SERVED, "idle", ["ticket.no_show"], None),
    ("called_doc", Transfer("A001", service="hukou.birth"), SERVED, "serving", [],
     Refusal.SERVICE_BEGUN),
    # A document shown and never confirmed did not print, as when a case ends.
    ("called_doc", NoShow(), SERVED, "idle", ["document.withdrawn", "ticket.no_show"], None),
    # rating and away: a waiting ticket can still be moved
    ("rating", Recall(), None, "rating", [], Refusal.NO_CALLED_TICKET),
    ("rating", NoShow(), None, "rating", [], Refusal.NO_CALLED_TICKET),
    ("rating", CallTicket("A002"), None, "rating", [], Refusal.CALL_WHEN_IDLE),
    ("rating", Transfer("A002", window=3), WAITING, "rating", ["ticket.transferred"], None),
    ("away", Recall(), None, "away", [], Refusal.NO_CALLED_TICKET),
    ("away", NoShow(), None, "away", [], Refusal.NO_CALLED_TICKET),
    ("away", CallTicket("A002"), None, "away", [], Refusal.CALL_WHEN_IDLE),
    ("away", Transfer("A002", window=3), WAITING, "away", ["ticket.transferred"], None),
]


@pytest.mark.parametrize(("start", "intent", "call", "mode", "events", "refused"), CELLS,
                         ids=[f"{c[0]}-{type(c[1]).__name__}-{i}" for i, c in enumerate(CELLS)])
def test_cell(start: str, intent: Intent, call: Call | None, mode: str, events: list[str],
              refused: Refusal | None) -> None:
    c = queue_counter(start)
    before = c.state
    check_cell(c, before, c.handle(intent, T0 + 60, call), mode, events, refused)


def test_every_mode_has_a_cell_for_every_queue_control() -> None:
    kinds = {Recall, NoShow, CallTicket, Transfer}
    for mode in ("idle", "serving", "rating", "away", "called"):
        assert {type(c[1]) for c in CELLS if c[0] == mode} == kinds, mode


def test_a_no_show_closes_the_case_in_its_event_without_a_rating() -> None:
    c = queue_counter("called")
    case_no = c.state.case_no
    t = c.handle(NoShow(), T0 + 90, Call("A001", "id_card.renew", DAY,
                                         {"no_shows": 1, "requeued": True, "ahead": 3}))
    (d,) = t.drafts
    assert dict(d.data) == {"no_shows": 1, "requeued": True, "ahead": 3, "number": "A001",
                            "case_no": case_no, "service": "id_card.renew",
                            "officer": "000001", "duration_s": 90.0}
    s = c.state
    assert (s.mode, s.ticket, s.case_no, s.rating_deadline) == (Mode.IDLE, "", "", 0.0)
    # Like any ended case, its number cannot be started again by a resent case_start.
    assert c.handle(CaseStart(case_no, "id_card.renew"), T0 + 91).refused \
        is Refusal.CASE_STARTED


def test_a_call_opens_the_case_like_next_does() -> None:
    by_next, by_call = Counter(SETTINGS), Counter(SETTINGS)
    a = by_next.handle(Press("next"), T0, WAITING)
    b = by_call.handle(CallTicket("A002"), T0, WAITING)
    assert a.drafts == b.drafts and by_next.state == by_call.state
    assert by_call.state.ticket == "A002" and by_call.state.service == "hukou.birth"
