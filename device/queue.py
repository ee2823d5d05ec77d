"""The queue desk: tickets, appointment check-in, green-channel priority, calling.

Lives in the core (not the UI) so the screen, the QR scanner driver, the workstation and
the officer's next button all see one queue. ``kiosk.build.build_counter`` builds a
:class:`QueueDesk` from the :class:`~device.core.Core` and the core's
:class:`~device.tickets.TicketBook`, and hands the desk to whoever needs it (the screen,
the scanner); the core itself only knows the book.

* Tickets are numbered per local day: ``{prefix}001``, ``{prefix}002``, ...
* Order: green-channel groups (priority 2) first, then checked-in appointments
  (priority 1), then everyone else (0); within a priority, in the order issued.
* Every ticket is written with its ``ticket.issued`` event and its print job in one
  transaction (``core.record``), so a printed number is always on disk.
* Calling: when the officer's next button (or the workstation's ``call_next``, which the
  link turns into the same press) opens a case, the core asks its ticket book for the next
  waiting ticket (:meth:`~device.tickets.TicketBook.next_call`) and commits
  ``case.started`` (with the ticket's number and service), ``ticket.called`` and the
  ticket's called mark in one transaction. Nothing shows the number before that commit
  returns: :attr:`called` is read from the committed counter state (the ticket of the open
  case), so it clears when the case ends and at midnight. A case opened by the
  workstation's ``case_start`` (its own case number) calls nothing: the workstation runs
  its own queue in that set-up.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device import printjobs
from device.core import Core
from device.counter import Mode
from device.errors import StateError
from device.events import Draft, EventType
from device.intents import Press
from device.tickets import (
    PRIORITY_APPOINTMENT,
    PRIORITY_GREEN,
    PRIORITY_NORMAL,
    Book,
    Ticket,
)

log = logging.getLogger("queue")

# Green-channel groups a site may open in config (queue.green_channel); labels for the screen.
GROUP_LABELS: dict[str, str] = {
    "migrant_worker": "农民工",
    "student": "学生",
    "veteran": "退役军人",
    "elderly": "老年人",
    "disabled": "残疾人",
    "military": "现役军人",
}

# Used only when HQ sent no appointments and queue.demo_appointments is on (simulation).
# No slot: a demo code checks in at any hour (real ones only inside their window).
DEMO_APPOINTMENTS: tuple[dict[str, str], ...] = (
    {"code": "20261001", "service": "id_card.renew", "date": "", "slot": ""},
    {"code": "20261002", "service": "hukou.birth", "date": "", "slot": ""},
    {"code": "20261003", "service": "id_card.lost", "date": "", "slot": ""},
)
_CODE_RE = re.compile(r"^[0-9A-Za-z]{4,32}$")




@dataclass(frozen=True)
class CheckIn:
    ok: bool
    message: str  # Chinese, for the screen
    ticket: Ticket | None = None


class QueueDesk:
    """Issues tickets and checks appointments in through ``core`` (each one commit);
    reads the queue through ``book``, the same :class:`TicketBook` the core calls from."""

    def __init__(self, core: Core, book: Book) -> None:
        self.core = core
        self.book = book
        self.config = book.config
        self.catalogue = book.catalogue
        self._tz = ZoneInfo(self.config.device.timezone)

    # ------------------------------------------------------------------ reading

    def today(self) -> str:
        return self.book.today()

    def waiting(self) -> list[Ticket]:
        """Today's waiting tickets in the order they will be called."""
        return self.book.waiting()

    def people_ahead(self, ticket: Ticket | None = None, *, priority: int = 0) -> int:
        return self.book.people_ahead(ticket, priority=priority)

    def est_wait_min(self, people_ahead: int) -> int:
        return self.book.est_wait_min(people_ahead)

    def groups(self) -> list[tuple[str, str]]:
        """The green-channel groups open at this counter, with their labels."""
        return [(g, GROUP_LABELS.get(g, g)) for g in self.config.queue.green_channel]

    # ------------------------------------------------------------------ tickets

    def issue_ticket(self, service: str, group: str | None = None) -> Ticket:
        """A new ticket for ``service`` (a catalogue code), with a print job."""
        group = group or ""
        if group and group not in self.config.queue.green_channel:
            raise StateError(f"green-channel group {group!r} is not open at this counter "
                             f"(queue.green_channel = {list(self.config.queue.green_channel)})")
        priority = PRIORITY_GREEN if group else PRIORITY_NORMAL
        return self._issue(service, group, priority, appointment="", extra=[])

    def _issue(self, service: str, group: str, priority: int, *, appointment: str,
               extra: list[Draft]) -> Ticket:
        catalogue = self.catalogue.current()
        if catalogue.get(service) is None:
            raise StateError(f"service {service!r} is not in catalogue {catalogue.version}")
        with self.core.exclusive():
            now = self.core.clock()
            # The book numbers it (this counter's queue, or the station's) and gives the
            # row writers; they commit with the event and the print job, so a printed
            # number is on disk.
            issued = self.book.issue(service, group, priority, appointment, now)
            number, ahead, wait = issued.number, issued.ahead, issued.est_wait_min
            name = catalogue.name(service)
            job = printjobs.PrintJob("ticket", {
                "number": number, "service_name": name, "people_ahead": ahead,
                "est_wait_min": wait, "window": _windows(issued.windows)
                or self.config.window.number,
                "issued_at": datetime.fromtimestamp(now, self._tz).strftime("%Y-%m-%d %H:%M"),
                "green_channel": priority == PRIORITY_GREEN,
                "appointment": priority == PRIORITY_APPOINTMENT,
                "station": self.config.window.station})
            facts: dict[str, Any] = {
                "number": number, "service": service, "group": group, "priority": priority,
                "appointment": appointment, "people_ahead": ahead, "est_wait_min": wait}
            if issued.fallback:
                facts["fallback"] = True
            drafts = [*extra, Draft(EventType.TICKET_ISSUED, facts)]
            self.core.record(drafts, also=[*issued.also, self.core.store.enqueue_print(job)])
            return Ticket(issued.ids[0] if issued.ids else 0, number, service, name, group,
                          priority, appointment, now, ahead, wait, windows=issued.windows,
                          fallback=issued.fallback)

    # ------------------------------------------------------------------ appointments

    def appointments(self) -> list[dict[str, Any]]:
        """Appointments HQ sent (site_content "appointments"), or the demo set."""
        stored = self.core.store.site_content("appointments")
        if stored:
            try:
                data = json.loads(stored.body)
                items = data.get("appointments", []) if isinstance(data, dict) else data
                if isinstance(items, list):
                    return [a for a in items if isinstance(a, dict)]
            except (json.JSONDecodeError, AttributeError):
                pass
            log.error("stored appointments are not a JSON list; none can check in")
            return []
        return [dict(a) for a in DEMO_APPOINTMENTS] if self.config.queue.demo_appointments else []

    def check_in(self, code: str, source: str = "screen") -> CheckIn:
        """Check in appointment ``code``: a priority ticket, or a reason in Chinese.

        The QR scanner driver passes ``source="scanner"``; then a refusal is also
        announced to the screen (Core.announce), since nobody is looking at a return value.
        """
        result = self._check_in(code.strip(), source)
        if not result.ok and source != "screen":
            self.core.announce(result.message, "error")
        return result

    def _check_in(self, code: str, source: str) -> CheckIn:
        if not _CODE_RE.match(code):
            return CheckIn(False, "预约码格式不正确，请核对后重新输入")
        appt = next((a for a in self.appointments() if str(a.get("code", "")) == code), None)
        if appt is None:
            return CheckIn(False, f"未找到预约码 {code}，请核对后重试，或直接取号")
        date = str(appt.get("date", "") or "")
        if date and date != self.today():
            return CheckIn(False, f"该预约的日期是 {date}，不是今天，请按预约日期前来")
        slot = str(appt.get("slot", ""))
        late = _outside_slot(slot, datetime.fromtimestamp(self.core.clock(), self._tz),
                             self.config.queue.appointment_grace_min)
        if late:
            return CheckIn(False, late)
        with self.core.exclusive():
            done = self.core.store.checked_in_number(code)
            if done:
                return CheckIn(False, f"该预约已签到，您的号码是 {done}")
            service = str(appt.get("service", ""))
            if self.catalogue.current().get(service) is None:
                return CheckIn(False, "该预约的业务不在本窗口办理，请到咨询台询问")
            checked = Draft(EventType.APPOINTMENT_CHECKED_IN, {
                "code": code, "service": service, "source": source,
                "slot": str(appt.get("slot", ""))})
            ticket = self._issue(service, "", PRIORITY_APPOINTMENT, appointment=code,
                                 extra=[checked])
        return CheckIn(True, f"签到成功，您的号码是 {ticket.number}", ticket)

    # ------------------------------------------------------------------ calling

    @property
    def called(self) -> Ticket | None:
        """The ticket being served now: the one the open case called, if it is today's.
        Read from the committed state, so it is never ahead of the disk."""
        s = self.core.state
        if not s.ticket or s.ticket_day != self.today():
            return None
        return self.book.ticket_on(s.ticket_day, s.ticket)

    def call_next(self) -> Ticket | None:
        """Open a case for the first waiting ticket, as the next button does when the
        counter is idle. None (and nothing happens) when nobody waits."""
        with self.core.exclusive():
            if not self.waiting():
                return None
            if self.core.state.mode is not Mode.IDLE:
                raise StateError(f"the counter is {self.core.state.mode.value}: a ticket is "
                                 "called when it is idle")
            log.info("calling the next ticket")
            self.core.submit(Press("next", source="queue"))
            return self.called

    # ------------------------------------------------------------------ internals


# ---------------------------------------------------------------------- check-in window


def _windows(windows: tuple[int, ...]) -> str:
    """"1、2号窗口" for a station's ticket served at several windows; "" for none."""
    return "、".join(str(w) for w in windows) + "号窗口" if windows else ""



def _outside_slot(slot: str, now: datetime, grace_min: int) -> str:
    """Why ``now`` is outside the check-in window of ``slot`` ("09:00-09:30"), or "".

    The window is the slot widened by ``queue.appointment_grace_min`` on both sides; a
    slot that does not parse (or none) is not checked."""
    m = re.fullmatch(r"(\d{1,2}):(\d{2})(?:-(\d{1,2}):(\d{2}))?", slot.strip())
    if not m:
        return ""
    start = int(m[1]) * 60 + int(m[2])
    end = int(m[3]) * 60 + int(m[4]) if m[3] else start
    minute = now.hour * 60 + now.minute + now.second / 60
    opens, closes = max(0, start - grace_min), end + grace_min
    if minute < opens:
        return (f"您的预约时段是 {slot}，请于 {opens // 60:02d}:{opens % 60:02d} 后签到；"
                "现在办理请直接取号")
    if minute > closes:
        return f"您的预约时段 {slot} 已过，预约不再优先；请直接取号，按顺序办理"
    return ""
