"""StationBook: the ticket book of a window or the entrance in a station (docs/station.md).

A drop-in for :class:`device.tickets.TicketBook` (the :class:`~device.tickets.Book`
protocol): the core asks it under its lock for the next call and the queue controls, the
queue desk issues tickets through it, and it answers with the same
:class:`~device.tickets.Calling` / :class:`~device.tickets.Refused` shapes, so the
counter's events and state are those of a standalone counter. Each question goes to the
station (``call_next``, ``call``, ``recall``, ``no_show``, ``transfer``, ``issue``).

**Fallback.** When the station does not answer within ``station.timeout_s`` the book
numbers tickets from this device's own block (``<station.fallback_prefix>001``), stores
them in the local queue (device/store_queue.py) in the commit of their ``ticket.issued``
event and print job (so before they print), and calls them locally through the counter's
own :class:`TicketBook`. :meth:`reconcile` sends them to the station when it answers
again and marks those it took, so each goes once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

from device.catalogue import CatalogueSource
from device.codes import Refusal
from device.config import Config
from device.counter import Call
from device.errors import StateError
from device.events import Draft, EventType, uuid7
from device.intents import CallTicket, Intent, NoShow, Recall, Transfer
from device.snapshot import Mode, Snapshot
from device.store import Store
from device.tickets import Calling, Issued, Refused, Ticket, TicketBook
from drivers.station.client import StationClient

log = logging.getLogger("station.book")

Response = dict[str, Any]
GONE_STATION = "station"  # queue_tickets.gone of a block ticket the station took
BUSY = "busy"  # the station's refusal of call_next: the window still serves a ticket
# A ticket number of the station's groups or of a device's block: 1-3 letters, at most two
# digits of prefix, then the day's count (docs/station.md).
TICKET_NUMBER = re.compile(r"[A-Z]{1,3}[0-9]{3,6}")


class _Detail(dict[str, str]):
    """A refusal's detail from the station: whatever its text names and it did not send
    reads as the station's own error."""

    def __missing__(self, key: str) -> str:
        return self.get("error", "?")


class StationBook:
    def __init__(self, store: Store, config: Config, client: StationClient, *,
                 clock: Callable[[], float], catalogue: CatalogueSource | None = None) -> None:
        self.store = store
        self.config = config
        self.client = client
        self.clock = clock
        # This device's own block: numbered, stored and called here while the station
        # does not answer (the standalone book, with the fallback prefix).
        self.local = TicketBook(store, config, clock=clock, catalogue=catalogue)
        self.catalogue = self.local.catalogue
        self.prefix = config.station.fallback_prefix
        self.window = config.window.number if config.station.role == "window" else 0
        self._called: dict[tuple[str, str], Ticket] = {}
        self.fallbacks = 0  # questions the station did not answer (health, tests)

    # ------------------------------------------------------------------ reading

    def today(self) -> str:
        return self.local.today()

    def waiting(self) -> list[Ticket]:
        """This device's own block still waiting here (the station's queue is its own)."""
        return self.local.waiting()

    def people_ahead(self, ticket: Ticket | None = None, *, priority: int = 0) -> int:
        return self.local.people_ahead(ticket, priority=priority)

    def est_wait_min(self, people_ahead: int) -> int:
        return self.local.est_wait_min(people_ahead)

    def ticket_on(self, day: str, number: str) -> Ticket | None:
        return self._called.get((day, number)) or self.local.ticket_on(day, number)

    # ------------------------------------------------------------------ asking

    def ask(self, op: str, **fields: Any) -> Response | None:
        """The station's response, or None (not answered in time: fall back)."""
        resp = self.client.request(op, **fields)
        if resp is None:
            self.fallbacks += 1
        return resp

    def _own(self, number: str) -> bool:
        """A ticket of this device's block, still in the local queue's hands (a waiting
        one the station took is the station's: gone 'station')."""
        row = self.store.ticket_numbered(self.today(), number) if number else None
        return row is not None and row["gone"] != GONE_STATION

    # ------------------------------------------------------------------ issuing

    def issue(self, service: str, group: str, priority: int, appointment: str,
              now: float) -> Issued:
        rid = uuid7()
        resp = self.ask("issue", rid=rid, service=service, priority=priority,
                        appointment=appointment)
        if resp is None:
            day = self.today()
            number = f"{self.prefix}{self.store.tickets_issued(day) + 1:03d}"
            # The station may have taken the request and lost only its answer (killed
            # between commit and reply): reconcile names the rid, and the station voids
            # the ticket it issued for it, which nobody holds.
            issued = self.local.issue_numbered(number, service, group, priority, appointment,
                                               now, replaces=rid)
            watch = tuple(self.windows_for(service))
            log.warning("station away: ticket %s from this device's block", number)
            return Issued(number, issued.ahead, issued.est_wait_min, issued.also, issued.ids,
                          watch, fallback=True)
        if not resp.get("ok"):
            raise StateError(f"the station refused the ticket: {resp.get('error', '?')}")
        t = resp.get("ticket") or {}
        ahead = int(resp.get("ahead", 0))
        wait = resp.get("est_wait_min")
        return Issued(str(t.get("number", "")), ahead,
                      int(wait) if isinstance(wait, int | float) else self.est_wait_min(ahead),
                      windows=tuple(int(w) for w in resp.get("windows", ()) or ()))

    def _board_services(self) -> list[str]:
        """The services the last board says this window serves (none heard: none)."""
        for w in (self.client.board or {}).get("windows", ()) or ():
            if isinstance(w, dict) and w.get("window") == self.window:
                return [str(x) for x in w.get("services") or ()]
        return []

    def windows_for(self, service: str) -> list[int]:
        """The windows the last board says serve ``service`` (none heard: none)."""
        board = self.client.board or {}
        out = []
        for w in board.get("windows", ()) or ():
            if isinstance(w, dict) and service in (w.get("services") or ()):
                out.append(int(w.get("backup") or 0) if w.get("away") else int(w["window"]))
        return sorted({w for w in out if w})

    # ------------------------------------------------------------------ calling

    def next_call(self, now: float) -> Calling | None:
        resp = self.ask("call_next", window=self.window)
        if resp is None:
            return self.local.next_call(now)  # the station is away: our own block
        if not resp.get("ok"):
            if resp.get("code") == BUSY:
                return self._resume(now)
            log.warning("the station refused call_next: %s", resp.get("error"))
            return None
        t = resp.get("ticket")
        return self._calling(t, now, {}) if isinstance(t, dict) else None

    def _resume(self, now: float) -> Calling | None:
        """The station says this window still serves a ticket, yet the counter is idle:
        the station committed our call and we did not (killed between its answer and our
        commit, or the commit failed). Call that ticket again (``recall``) and serve it,
        rather than leave the window refused at every next press."""
        resp = self.ask("recall", window=self.window)
        t = resp.get("ticket") if resp is not None and resp.get("ok") else None
        if not isinstance(t, dict):
            log.warning("the station says window %d serves a ticket but did not recall it: "
                        "%s", self.window, (resp or {}).get("error", "no answer"))
            return None
        log.warning("the station's call of %s was not recorded here: called again", t["number"])
        return self._calling(t, now, {"resumed": True})

    def _calling(self, t: Mapping[str, Any], now: float, extra: Mapping[str, Any]) -> Calling:
        number, service = str(t["number"]), str(t["service"])
        day = str(t.get("day") or self.today())
        issued = float(t.get("issued_ts") or now)
        called = Draft(EventType.TICKET_CALLED, {
            "number": number, "service": service, "window": self.config.window.number,
            "priority": int(t.get("priority", 0)), "waited_s": round(max(0.0, now - issued), 1),
            **extra})
        self._remember(t, day, now)
        return Calling(Call(number, service, day), (called,), ())

    def _remember(self, t: Mapping[str, Any], day: str, now: float) -> None:
        ticket = Ticket(0, str(t["number"]), str(t["service"]),
                        self.catalogue.current().name(str(t["service"])), "",
                        int(t.get("priority", 0)), "", float(t.get("issued_ts") or now),
                        called_ts=now)
        self._called[(day, ticket.number)] = ticket
        while len(self._called) > 64:  # only the recent calls are ever asked for
            self._called.pop(next(iter(self._called)))

    # ------------------------------------------------------------------ queue controls

    def plan(self, intent: Intent, s: Snapshot, now: float) -> Calling | Refused | None:
        serving = s.ticket if s.mode is Mode.SERVING else ""
        number = intent.number if isinstance(intent, CallTicket | Transfer) else serving
        if (serving or isinstance(intent, CallTicket | Transfer)) and self._own(number):
            return self.local.plan(intent, s, now)  # one of our own block's tickets
        if isinstance(intent, CallTicket) and s.mode is Mode.IDLE:
            resp = self.ask("call", window=self.window, number=intent.number)
            if resp is None:
                return self._brought(intent.number, now) or self.local.plan(intent, s, now)
            facts = {"out_of_order": True, "skipped": int(resp.get("skipped", 0))}
            return self._answer(resp, intent.number, lambda t: self._calling(t, now, facts))
        if isinstance(intent, Recall | NoShow) and serving:
            op = "recall" if isinstance(intent, Recall) else "no_show"
            resp = self.ask(op, window=self.window)
            if resp is None:
                return Refused(Refusal.STATION_AWAY, {"op": op})
            answer = resp
            return self._answer(resp, serving, lambda t: self._control(intent, answer, t, s))
        if isinstance(intent, Transfer):
            return self._transfer(intent, s, serving)
        return None

    def _brought(self, number: str, now: float) -> Calling | None:
        """While the station does not answer, a ticket this window never issued (the
        entrance's block, or a station ticket from before it went away) whose holder came
        to the window: called here by its number and stored as ``brought``, so reconcile
        reports it called here and the station never calls it again. None: a number of
        this window's own block, one it holds already, or not a ticket number."""
        day = self.today()
        if not TICKET_NUMBER.fullmatch(number) or self.store.ticket_numbered(day, number):
            return None
        if self.prefix and number.startswith(self.prefix) and \
                number[len(self.prefix):].isdigit():
            return None  # our own block: the local book knows every number it issued
        # The slip's service is not known here: this window's first (as the last board
        # said, else as configured), which the officer's case can change like any other.
        service = next(iter(self._board_services() or self.config.window.services), "") or \
            next((x.code for x in self.catalogue.current().services), "")
        called = Draft(EventType.TICKET_CALLED, {
            "number": number, "service": service, "window": self.config.window.number,
            "priority": 0, "waited_s": 0.0, "out_of_order": True, "skipped": 0,
            "brought": True})
        log.warning("station away: ticket %s, not this window's, called here by number", number)
        write = self.store.bring_ticket({"day": day, "number": number, "service": service,
                                         "issued_ts": now, "called_ts": now})
        return Calling(Call(number, service, day), (called,), (write,))

    def _transfer(self, i: Transfer, s: Snapshot, serving: str) -> Calling | Refused:
        if i.window and i.window == self.config.window.number:
            return Refused(Refusal.OWN_WINDOW, {"window": str(i.window)})
        if serving == i.number and (s.mirror or s.document is not None):
            # The counter keeps a case the officer has begun: asked before the station
            # moves the ticket, so both sides agree (device/counter_queue.py).
            return Refused(Refusal.SERVICE_BEGUN, {"number": i.number, "case_no": s.case_no})
        target = {"service": i.service} if i.service else {"to_window": i.window}
        resp = self.ask("transfer", window=self.window, number=i.number, **target)
        if resp is None:
            return Refused(Refusal.STATION_AWAY, {"op": "transfer"})
        return self._answer(resp, i.number, lambda t: self._control(i, resp, t, s))

    def _control(self, intent: Intent, resp: Response, t: Mapping[str, Any],
                 s: Snapshot) -> Calling:
        day = str(t.get("day") or s.ticket_day or self.today())
        facts: dict[str, Any]
        if isinstance(intent, Recall):
            facts = {"count": int(t.get("recalls", 1)), "window": self.config.window.number}
        elif isinstance(intent, NoShow):
            facts = {"no_shows": int(t.get("no_shows", 1)),
                     "requeued": bool(resp.get("requeued"))}
        else:
            assert isinstance(intent, Transfer)
            facts = {"from_service": str(resp.get("from_service") or s.service
                                         or t.get("service", ""))}
            facts.update({"to_service": intent.service} if intent.service
                         else {"to_window": intent.window})
        return Calling(Call(str(t["number"]), str(t["service"]), day, facts), (), ())

    def _answer(self, resp: Response, number: str,
                make: Callable[[Mapping[str, Any]], Calling]) -> Calling | Refused:
        t = resp.get("ticket")
        if resp.get("ok") and isinstance(t, dict):
            return make(t)
        error = str(resp.get("error") or "the station sent no ticket")
        try:
            code = Refusal(str(resp.get("code")))
        except ValueError:
            code = Refusal.STATION_REFUSED
        return Refused(code, _Detail(number=number, error=error, waiting=error, why=error))

    # ------------------------------------------------------------------ reconcile

    def pending(self) -> list[dict[str, Any]]:
        """What this device issued (and called) from its own block, not yet reconciled."""
        return self.store.unreconciled_tickets()

    def reconcile(self) -> Response | None:
        """Send the block's tickets to the station; those it took (or had) are marked and
        never sent again. None: nothing to send, or the station did not answer."""
        rows = self.pending()
        if not rows:
            return None
        tickets = [{"number": r["number"], "day": r["day"], "service": r["service"],
                    "priority": int(r["priority"]), "appointment": r["appointment"],
                    "issued_ts": float(r["issued_ts"]), "called_ts": r["called_ts"],
                    "window": self.window if r["called_ts"] is not None else 0,
                    "gone": r["gone"], "replaces": r["replaces"]} for r in rows]
        resp = self.ask("reconcile", tickets=tickets)
        if resp is None or not resp.get("ok"):
            return resp
        done = _numbers(resp.get("taken")) | _numbers(resp.get("already"))
        ids = [int(r["id"]) for r in rows if (r["day"], r["number"]) in done
               or (None, r["number"]) in done]
        self.store.append([], also=[self.store.mark_reconciled(ids, self.clock())])
        log.info("reconciled %d tickets of block %s with the station", len(ids), self.prefix)
        return resp


def _numbers(value: Any) -> set[tuple[str | None, str]]:
    """(day, number) of a reconcile response's list (numbers, or {number, day})."""
    out: set[tuple[str | None, str]] = set()
    for item in value or ():
        if isinstance(item, str):
            out.add((None, item))
        elif isinstance(item, dict) and "number" in item:
            out.add((item.get("day"), str(item["number"])))
    return out
