"""The ticket book's part of the queue controls (the link's recall, no_show, call, transfer).

The core calls :func:`plan` under its lock, like :meth:`TicketBook.next_call` for a next
press: it reads the ticket and the waiting queue and answers either :class:`Refused` (the
ticket is unknown, not waiting, the service or window is wrong: nothing is written) or a
:class:`~device.tickets.Calling`: the ticket for the counter (device/counter_queue.py),
the facts the counter puts in its event, any events of the book's own (``ticket.called``)
and the row writers. The core commits those writers with the events in one transaction,
and only when the counter took the intent, so a refusal on either side changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from device import handover
from device.codes import Refusal
from device.counter import Call
from device.events import Draft, EventType
from device.intents import CallTicket, Intent, NoShow, Recall, Transfer
from device.snapshot import Mode, Snapshot
from device.store import Writer
from device.tickets import Calling, Refused, TicketBook

GONE_NO_SHOW = "no_show"  # queue_tickets.gone of a ticket dropped for the day
_WINDOW = "window:"  # queue_tickets.gone of one handed to another window: "window:3"
_LISTED = 10  # waiting numbers a refusal names; more would not fit a workstation's line
__all__ = ["GONE_NO_SHOW", "Refused", "plan"]


Row = dict[str, Any]


def plan(book: TicketBook, intent: Intent, s: Snapshot, now: float) -> Calling | Refused | None:
    """What ``intent`` does to the tickets, asked only when the counter's mode can take it
    (otherwise None: the counter refuses it, device/counter_queue.py)."""
    serving = s.ticket if s.mode is Mode.SERVING else ""
    if isinstance(intent, CallTicket) and s.mode is Mode.IDLE:
        return _call(book, intent.number, now)
    if isinstance(intent, Recall | NoShow) and serving:
        row = book.store.ticket_numbered(s.ticket_day, serving)
        if row is None:  # the state names a ticket the table lost: nothing to act on
            return Refused(Refusal.NO_CALLED_TICKET)
        return _recall(book, row, s.ticket_day) if isinstance(intent, Recall) \
            else _no_show(book, row, s.ticket_day)
    if isinstance(intent, Transfer):
        day = s.ticket_day if serving and intent.number == serving else book.today()
        return _transfer(book, intent, day, serving)
    return None


def _key(row: Row) -> float:
    """Where a ticket stands among the waiting of its priority (store_queue's order)."""
    return float(row["place"]) if row["place"] is not None else float(row["id"])


def _numbers(rows: Sequence[Row]) -> str:
    listed = ", ".join(str(r["number"]) for r in rows[:_LISTED]) or "none"
    return listed + (f" and {len(rows) - _LISTED} more" if len(rows) > _LISTED else "")


def _not_waiting(book: TicketBook, day: str, number: str, serving: str) -> Refused:
    waiting = _numbers(book.store.waiting_tickets(day))
    row = book.store.ticket_numbered(day, number)
    if row is None:
        return Refused(Refusal.TICKET_UNKNOWN, {"number": number, "waiting": waiting})
    gone = str(row["gone"])
    if gone == GONE_NO_SHOW:
        why = f"it was dropped after {row['no_shows']} no-shows"
    elif gone.startswith(_WINDOW):
        why = f"it was handed to window {gone.removeprefix(_WINDOW)}"
    elif number == serving:
        why = "it is being served at this counter"
    else:
        why = "it was already called"
    return Refused(Refusal.TICKET_NOT_WAITING, {"number": number, "why": why,
                                                "waiting": waiting})


def _call(book: TicketBook, number: str, now: float) -> Calling | Refused:
    day = book.today()
    rows = book.store.waiting_tickets(day)
    at = next((i for i, r in enumerate(rows) if r["number"] == number), None)
    if at is None:
        return _not_waiting(book, day, number, "")
    t = rows[at]
    called = Draft(EventType.TICKET_CALLED, {
        "number": number, "service": t["service"], "window": book.config.window.number,
        "priority": int(t["priority"]), "waited_s": round(max(0.0, now - t["issued_ts"]), 1),
        # Called by number; ``skipped`` says how many waiting tickets it went before.
        "out_of_order": True, "skipped": at, **handover.call_facts(t)})
    intake = handover.called(t, day, book.config.window.number)
    return Calling(Call(number, t["service"], day), (called, *intake),
                   (book.store.mark_called(int(t["id"]), now),))


def _recall(book: TicketBook, row: Row, day: str) -> Calling:
    facts = {"count": int(row["recalls"]) + 1, "window": book.config.window.number}
    return Calling(Call(row["number"], row["service"], day, facts), (),
                   (book.store.count_recall(int(row["id"])),))


def _no_show(book: TicketBook, row: Row, day: str) -> Calling:
    cfg = book.config.queue
    no_shows = int(row["no_shows"]) + 1
    write: Writer
    if no_shows <= cfg.no_show_requeue:
        priority, place, ahead = _requeue_place(row, book.store.waiting_tickets(day),
                                                cfg.no_show_requeue_after)
        write = book.store.requeue(int(row["id"]), priority, place, no_show=True)
        facts: dict[str, Any] = {"no_shows": no_shows, "requeued": True, "ahead": ahead}
    else:
        write = book.store.leave_queue(int(row["id"]), GONE_NO_SHOW, no_show=True)
        facts = {"no_shows": no_shows, "requeued": False}
    return Calling(Call(row["number"], row["service"], day, facts), (), (write,))


def _requeue_place(row: Row, waiting: Sequence[Row], after: int) -> tuple[int, float | None,
                                                                           int]:
    """(priority, place, tickets ahead) that put ``row`` behind ``after`` waiting tickets,
    or at the end when fewer wait. It takes the priority of the ticket it goes behind: a
    green-channel ticket that did not come waits behind the next ones like anybody."""
    if after == 0 or not waiting:  # back where it was
        own = _key(row)
        ahead = sum(1 for r in waiting if r["priority"] > row["priority"] or (
            r["priority"] == row["priority"] and _key(r) < own))
        return int(row["priority"]), row["place"], ahead
    behind = waiting[min(after, len(waiting)) - 1]
    nxt = waiting[after] if len(waiting) > after else None
    if nxt is not None and nxt["priority"] == behind["priority"]:
        place = (_key(behind) + _key(nxt)) / 2
    else:
        # The last of its priority: half a step on stays before any ticket issued later.
        place = _key(behind) + 0.5
    return int(behind["priority"]), place, min(after, len(waiting))


def _transfer(book: TicketBook, i: Transfer, day: str, serving: str) -> Calling | Refused:
    row = book.store.ticket_numbered(day, i.number)
    served = bool(serving) and i.number == serving
    if row is None or not (served or (row["called_ts"] is None and not row["gone"])):
        return _not_waiting(book, day, i.number, serving)
    ticket_id, service = int(row["id"]), str(row["service"])
    facts: dict[str, Any] = {"from_service": service}
    write: Writer
    if i.service:
        catalogue = book.catalogue.current()
        if catalogue.get(i.service) is None:
            return Refused(Refusal.SERVICE_UNKNOWN, {
                "service": i.service, "version": catalogue.version,
                "codes": ", ".join(s.code for s in catalogue.services)})
        if i.service == service:
            return Refused(Refusal.SAME_SERVICE, {"number": i.number, "service": service})
        facts["to_service"] = i.service
        # A called ticket goes back where it stood, so the next call calls it again with
        # the service it really needs; a waiting one only changes its service.
        write = (book.store.requeue(ticket_id, int(row["priority"]), row["place"],
                                    service=i.service) if served
                 else book.store.change_service(ticket_id, i.service))
    else:
        if i.window == book.config.window.number:
            return Refused(Refusal.OWN_WINDOW, {"window": str(i.window)})
        facts["to_window"] = i.window
        write = book.store.leave_queue(ticket_id, f"{_WINDOW}{i.window}")
    return Calling(Call(i.number, service, day, facts), (), (write,))
