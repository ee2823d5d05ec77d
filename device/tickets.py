"""The queue's tickets as the store holds them: reading the day's queue and calling.

:class:`TicketBook` needs only the store, the config and a clock, so the core can be
given one when it is built (``Core(..., tickets=book)``) and ask it, under the core lock,
which ticket a next press calls (:meth:`TicketBook.next_call`). The queue desk
(device/queue.py) issues tickets and checks appointments in through the core and reads
through the same book: the core does not know the desk, the desk knows the core.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from device import handover
from device.catalogue import CatalogueSource
from device.codes import Refusal
from device.config import Config
from device.counter import Call
from device.events import Draft, EventType
from device.store import Store, Writer

if TYPE_CHECKING:
    from device.intents import Intent
    from device.snapshot import Snapshot

PRIORITY_GREEN, PRIORITY_APPOINTMENT, PRIORITY_NORMAL = 2, 1, 0


@dataclass(frozen=True)
class Ticket:
    id: int
    number: str
    service: str
    service_name: str
    group: str
    priority: int
    appointment: str
    issued_ts: float
    people_ahead: int = 0
    est_wait_min: int = 0
    called_ts: float | None = None
    # A station's ticket (docs/station.md): the windows that serve it now; ``fallback``
    # when it came from this device's own block (the station did not answer).
    windows: tuple[int, ...] = ()
    fallback: bool = False


@dataclass(frozen=True)
class Refused:
    """The book's no to a queue control: nothing is written (device/ticket_ops.py)."""

    code: Refusal
    detail: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Issued:
    """A new ticket's number and place as the book gave it, with the row writers that
    commit with its ``ticket.issued`` event and print job (device/queue.py); ``ids``
    receives the local row id once committed (none for a station's ticket)."""

    number: str
    ahead: int
    est_wait_min: int
    also: tuple[Writer, ...] = ()
    ids: list[int] = field(default_factory=list)
    windows: tuple[int, ...] = ()
    fallback: bool = False


@dataclass(frozen=True)
class Calling:
    """What the book adds to the commit of a next press that calls a ticket: the
    ticket for the counter, its ``ticket.called`` event and the row update, so the case,
    the call and the ticket's state are on disk together or not at all."""

    call: Call
    drafts: tuple[Draft, ...]
    also: tuple[Writer, ...]


class Book(Protocol):
    """What the core (under its lock) and the queue desk ask of a ticket book: this
    counter's own queue (:class:`TicketBook`) or the station's (drivers/station/book.py)."""

    config: Config
    catalogue: CatalogueSource

    def today(self) -> str: ...

    def waiting(self) -> list[Ticket]: ...

    def people_ahead(self, ticket: Ticket | None = None, *, priority: int = 0) -> int: ...

    def est_wait_min(self, people_ahead: int) -> int: ...

    def ticket_on(self, day: str, number: str) -> Ticket | None: ...

    def next_call(self, now: float) -> Calling | None: ...

    def plan(self, intent: Intent, s: Snapshot, now: float) -> Calling | Refused | None: ...

    def issue(self, service: str, group: str, priority: int, appointment: str,
              now: float) -> Issued: ...


class TicketBook:
    """This counter's own queue, numbered ``{queue.prefix}001`` per local day."""

    def __init__(self, store: Store, config: Config, *, clock: Callable[[], float],
                 catalogue: CatalogueSource | None = None) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.catalogue = catalogue or CatalogueSource(store)
        self._tz = ZoneInfo(config.device.timezone)

    def today(self) -> str:
        return datetime.fromtimestamp(self.clock(), self._tz).strftime("%Y-%m-%d")

    def waiting(self) -> list[Ticket]:
        """Today's waiting tickets in the order they will be called."""
        rows = self.store.waiting_tickets(self.today())
        return [self._ticket(r, ahead=i) for i, r in enumerate(rows)]

    def people_ahead(self, ticket: Ticket | None = None, *, priority: int = 0) -> int:
        """How many are called before ``ticket``; without one, before a new ticket of
        ``priority`` issued now."""
        if ticket is None:
            return self.store.tickets_ahead(self.today(), priority)
        return self.store.tickets_ahead(self.today(), ticket.priority, before_id=ticket.id)

    def est_wait_min(self, people_ahead: int) -> int:
        """Minutes until a ticket with ``people_ahead`` is called (config's minutes per case)."""
        return math.ceil(people_ahead * self.config.queue.minutes_per_case)

    def ticket_on(self, day: str, number: str) -> Ticket | None:
        """Ticket ``number`` of ``day``, or None."""
        row = self.store.ticket_numbered(day, number)
        return self._ticket(row, ahead=0) if row else None

    def next_call(self, now: float) -> Calling | None:
        """What the core commits with a next press that opens a case: the first waiting
        ticket, its ``ticket.called`` event and its called mark. None when nobody waits.
        The core calls this under its lock, so no other call can take the same ticket."""
        rows = self.store.waiting_tickets(self.today(), limit=1)
        if not rows:
            return None
        t = self._ticket(rows[0], ahead=0)

        called = Draft(EventType.TICKET_CALLED, {
            "number": t.number, "service": t.service, "window": self.config.window.number,
            "priority": t.priority, "waited_s": round(max(0.0, now - t.issued_ts), 1),
            **handover.call_facts(rows[0])})
        # A handed-on intake (device/handover.py) says so with its call.
        intake = handover.called(rows[0], self.today(), self.config.window.number)
        return Calling(Call(t.number, t.service, self.today()), (called, *intake),
                       (self.store.mark_called(t.id, now),))

    def plan(self, intent: Intent, s: Snapshot, now: float) -> Calling | Refused | None:
        """What a queue control does to this counter's tickets (device/ticket_ops.py)."""
        from device import ticket_ops  # it builds on this module: imported when asked

        return ticket_ops.plan(self, intent, s, now)

    def issue(self, service: str, group: str, priority: int, appointment: str,
              now: float) -> Issued:
        """The next number of the day and the row that stores the ticket; called under
        the core lock, so two tickets never take one number."""
        day = self.today()
        number = f"{self.config.queue.prefix}{self.store.tickets_issued(day) + 1:03d}"
        return self.issue_numbered(number, service, group, priority, appointment, now)

    def issue_numbered(self, number: str, service: str, group: str, priority: int,
                       appointment: str, now: float, *, replaces: str = "") -> Issued:
        """``replaces``: the rid of the station request this block ticket stands in for."""
        ahead = self.people_ahead(priority=priority)
        ids: list[int] = []
        insert = self.store.issue_ticket({
            "day": self.today(), "number": number, "service": service, "grp": group,
            "priority": priority, "appointment": appointment, "issued_ts": now,
            "replaces": replaces}, ids)
        return Issued(number, ahead, self.est_wait_min(ahead), (insert,), ids)

    def _ticket(self, row: dict[str, Any], *, ahead: int) -> Ticket:
        service = row["service"]
        return Ticket(int(row["id"]), row["number"], service,
                      self.catalogue.current().name(service), row["grp"], int(row["priority"]),
                      row["appointment"], float(row["issued_ts"]), ahead,
                      self.est_wait_min(ahead), row["called_ts"])
