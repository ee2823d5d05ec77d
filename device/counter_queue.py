"""The counter's part of the queue controls: recall, no_show, call and transfer.

Pure like device/counter.py, whose :meth:`~device.counter.Counter.handle` sends these
intents here. What a ticket is (waiting, called, gone) the counter does not know: the
core asks the ticket book under its lock (device/ticket_ops.py), which either refuses or
hands the counter a :class:`Call` for the ticket, with the facts the book adds to the
counter's event (how often it was recalled, where a no-show goes). The counter decides
what the mode allows and what happens to the case.

A no-show, or the transfer of the ticket the open case called, closes that case without
a rating: the ticket event (``ticket.no_show``, ``ticket.transferred``) carries the case
and is its end. No ``case.ended`` and no ``rating.skipped``, so HQ counts neither a served
case nor a skipped rating for a citizen who never came to the window.

=============  ===================  =====================  ==================  ==========
input          idle                 serving                rating              away
=============  ===================  =====================  ==================  ==========
recall         refused              its ticket: recalled   refused             refused
no_show        refused              its ticket: no_show,   refused             refused
                                    idle
call NUMBER    case.started (auto)  refused                refused             refused
transfer       ticket.transferred   its ticket before      ticket.transferred  same
                                    service: + idle
=============  ===================  =====================  ==================  ==========
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from device.codes import Refusal
from device.events import Draft, EventType
from device.intents import CallTicket, NoShow, Recall, Transfer
from device.snapshot import Mode, Snapshot

if TYPE_CHECKING:
    from device.counter import Counter

RECENT_CASES = 32  # how many ended case numbers a new case_start is checked against


@dataclass(frozen=True)
class Call:
    """The ticket an intent acts on, as the ticket book found it: for a next press or a
    ``call`` the waiting ticket whose case it opens (device/queue.py picks it)."""

    number: str
    service: str
    day: str  # local YYYY-MM-DD the ticket was issued
    # What the book adds to the counter's event (recall count, requeue, transfer target).
    facts: Mapping[str, Any] = field(default_factory=dict)


class No:
    """A handler's refusal: the code and the values its text names (a case number)."""

    def __init__(self, code: Refusal, **detail: str) -> None:
        self.code = code
        self.detail = detail


Step = tuple[Snapshot, list[Draft]] | No
QueueIntent = Recall | NoShow | CallTicket | Transfer


def handle_queue(c: Counter, intent: QueueIntent, now: float, call: Call | None) -> Step:
    s = c.state
    if isinstance(intent, CallTicket):
        if s.mode is not Mode.IDLE:
            return No(Refusal.CALL_WHEN_IDLE, mode=s.mode.value)
        if call is None:  # a counter without a queue has no tickets to call
            return No(Refusal.TICKET_UNKNOWN, number=intent.number, waiting="none")
        # Exactly what the next button does in idle, for this ticket.
        return c._next_button(now, call)
    if isinstance(intent, Transfer):
        return _transfer(c, s, intent, now, call)
    if s.mode is not Mode.SERVING or not s.ticket:
        return No(Refusal.NO_CALLED_TICKET)
    facts = dict(call.facts) if call else {}
    if isinstance(intent, Recall):
        # The case goes on; the screen, the voice and the sign call the number again.
        return s, [Draft(EventType.TICKET_RECALLED, {**facts, "number": s.ticket,
                                                      "case_no": s.case_no})]
    return _close_unrated(s), [*_withdrawn(s), Draft(EventType.TICKET_NO_SHOW,
                                                     _closing(c, s, now, facts))]


def _transfer(c: Counter, s: Snapshot, i: Transfer, now: float, call: Call | None) -> Step:
    serving_it = s.mode is Mode.SERVING and bool(s.ticket) and i.number == s.ticket
    if call is None and not serving_it:
        return No(Refusal.TICKET_UNKNOWN, number=i.number, waiting="none")
    facts = dict(call.facts) if call else {}
    if not serving_it:
        # A waiting ticket: the queue changes, the counter does not.
        return s, [Draft(EventType.TICKET_TRANSFERRED, {**facts, "number": i.number,
                                                         "case_no": ""})]
    if s.mirror or s.document is not None:
        # The officer has begun (fields or a document were shown to the citizen): the
        # case is served and ends with its rating, not by moving the ticket away from it.
        return No(Refusal.SERVICE_BEGUN, number=i.number, case_no=s.case_no)
    drafts = [Draft(EventType.TICKET_TRANSFERRED, _closing(c, s, now, facts))]
    return _close_unrated(s), drafts


def _withdrawn(s: Snapshot) -> list[Draft]:
    """A document shown and never confirmed did not print: recorded as withdrawn, as
    when a case ends (device/counter.py)."""
    if s.document is None:
        return []
    return [Draft(EventType.DOCUMENT_WITHDRAWN, dict(s.document.record))]


def _closing(c: Counter, s: Snapshot, now: float, facts: Mapping[str, Any]) -> dict[str, Any]:
    """The data of the event that closes the case of ``s``'s called ticket."""
    started = datetime.fromisoformat(s.case_started).timestamp() if s.case_started else now
    return {**facts, "number": s.ticket, "case_no": s.case_no, "service": s.service,
            "officer": s.officer, "duration_s": round(max(0.0, now - started), 1)}


def _close_unrated(s: Snapshot) -> Snapshot:
    # Idle at once: no rating is asked. The number joins the recent cases so a resent
    # case_start of it is refused like that of any ended case.
    return dataclasses.replace(
        s, mode=Mode.IDLE, case_no="", service="", case_started="", mirror=(), document=None,
        ticket="", ticket_day="", rating_deadline=0.0,
        recent_cases=(*s.recent_cases, s.case_no)[-RECENT_CASES:])
