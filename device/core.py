"""The core: serialises intents, commits their events, then tells the observers.

Driver callbacks (GPIO, serial readers), the control socket and the UI all call
:meth:`Core.submit` from their own threads. One lock serialises them: the counter
computes the transition, the store commits it (WAL, synchronous=FULL), and only then are
the observers (LEDs, buzzer, sound, sign, screen) called, in commit order. So no feedback
ever confirms an event that is not on disk.

Observers run under the lock and must be quick: set a pin, put on a queue, or schedule
on Kivy's Clock. An observer that raises is logged and never breaks the counter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from device import __version__, handover
from device.codes import FAULTS, Fault, Refusal, refusal_text
from device.config import Config
from device.counter import Counter, CounterSettings, Mode, Snapshot, Transition
from device.documents import DocKind
from device.errors import StoreError
from device.events import Draft, Envelope, EventType
from device.intents import QUEUE_INTENTS, ConfirmDocument, Intent, Press, Tick
from device.printjobs import PrintJob
from device.store import Store, Writer
from device.tickets import Book, Calling, Refused

log = logging.getLogger("core")


@dataclass(frozen=True)
class Change:
    """What one submit did; observers get one per submit that changed or refused something."""

    before: Snapshot
    after: Snapshot
    events: tuple[Envelope, ...]
    refused: Refusal | None = None  # the screen shows its citizen text (device/codes.py)
    intent: object = None
    faults: dict[str, Fault] = field(default_factory=dict)
    at_perf: float = 0.0  # time.perf_counter() when the commit returned (for benchmarks)
    # A message for the screen that is not an event (e.g. "this QR code is not an
    # appointment of this station"); kind is "info" or "error".
    notice: str = ""
    notice_kind: str = ""


Observer = Callable[[Change], None]


@dataclass(frozen=True)
class Outcome:
    events: tuple[Envelope, ...]
    refused: Refusal | None
    state: Snapshot
    detail: Mapping[str, str] = field(default_factory=dict)  # what the refusal names

    @property
    def ok(self) -> bool:
        return self.refused is None

    @property
    def reason(self) -> str:
        """Why it was refused, in English (the link's and the simulation's replies)."""
        return refusal_text(self.refused, self.detail) if self.refused else ""


class Core:
    def __init__(self, config: Config, store: Store, *, clock: Callable[[], float] = time.time,
                 tickets: Book | None = None) -> None:
        self.config = config
        # Which ticket a next press calls; without a book (a counter without a queue, the
        # core's own tests) next opens a walk-in case.
        self.tickets = tickets
        self.store = store
        self.clock = clock
        self._lock = threading.RLock()
        self._observers: list[Observer] = []
        self._local = threading.local()
        self.faults: dict[str, Fault] = {}
        self._store_fault_detail = ""
        # Fault records a failing disk could not take: written with the next commit.
        self._unrecorded: list[Draft] = []
        staff = config.staff
        self.counter = Counter(
            CounterSettings(
                device=config.device.id,
                rating_s=config.timeouts.rating_s,
                timezone=config.device.timezone,
                on_duty=staff.on_duty,
                away_reason=staff.away_reason,
                away_minutes=staff.away_minutes,
                phones=tuple((o.badge, o.phone) for o in config.roster),
                backups=(staff.backup, staff.on_duty),
                backup_window=staff.backup_window,
            ),
            _restore(store),
        )

    # ------------------------------------------------------------------ observers

    def subscribe(self, observer: Observer) -> None:
        with self._lock:
            self._observers.append(observer)

    def unsubscribe(self, observer: Observer) -> None:
        with self._lock:
            self._observers.remove(observer)

    @property
    def state(self) -> Snapshot:
        return self.counter.state

    # ------------------------------------------------------------------ intents

    def start(self) -> Outcome:
        """Record the boot (and resume a restored rating timeout if it already passed)."""
        with self._lock:
            s = self.counter.state
            events = self._commit([Draft(EventType.DEVICE_BOOT, {
                "version": __version__, "resumed_mode": s.mode.value,
                "case_no": s.case_no})], None)
            self._notify(Change(s, s, tuple(events), faults=dict(self.faults),
                                at_perf=time.perf_counter()))
        self.submit(Tick(self.clock()))
        return Outcome(tuple(events), None, self.counter.state)

    def submit(self, intent: Intent) -> Outcome:
        with self._lock:
            now = self.clock()
            calling = self._calling(intent, now)
            if isinstance(calling, Refused):  # the ticket book said no: nothing changes
                s = self.counter.state
                transition = Transition(s, s, (), calling.code, calling.detail)
                calling = None
            else:
                transition = self.counter.handle(intent, now,
                                                 calling.call if calling else None)
            events: list[Envelope] = []
            if not transition.refused and (transition.drafts or transition.persist):
                state = transition.after.persistable() if transition.persist else None
                drafts = list(transition.drafts)
                also: tuple[Writer, ...] = ()
                # A queue control that was taken acted on its ticket; a next press on
                # the ticket only when the case it opened serves it.
                if calling is not None and (isinstance(intent, QUEUE_INTENTS)
                                            or transition.after.ticket == calling.call.number):
                    drafts += calling.drafts
                    also = calling.also
                issued = transition.before.document
                if isinstance(intent, ConfirmDocument) and issued is not None:
                    # Printed because it is issued: the job commits with document.issued.
                    also = (*also, self.store.enqueue_print(PrintJob(
                        issued.kind.value, dict(issued.print_data))))
                    if issued.kind is DocKind.INTAKE:  # handed on with its receipt
                        queued, write = handover.queue_intake(self.store, issued.record, now)
                        drafts.append(queued)
                        also = (*also, write)
                try:
                    events = self._commit(drafts, state, also)
                except Exception:
                    # Not on disk, so not taken: put the state back and tell nobody.
                    self.counter.state = transition.before
                    raise
            outcome = Outcome(tuple(events), transition.refused, transition.after,
                              transition.detail)
            self._local.last = outcome
            if transition.refused:
                log.info("refused %s: %s", type(intent).__name__, transition.reason)
            if transition.refused or events or transition.before != transition.after or (
                    transition.before.mirror != transition.after.mirror):
                self._notify(Change(transition.before, transition.after, tuple(events),
                                    transition.refused, intent, dict(self.faults),
                                    time.perf_counter()))
            return outcome

    def _calling(self, intent: Intent, now: float) -> Calling | Refused | None:
        """The ticket a next press in idle calls, or the one a queue control acts on
        (asked of the ticket book, under the lock; device/ticket_ops.py)."""
        if self.tickets is None:
            return None
        if isinstance(intent, QUEUE_INTENTS):
            return self.tickets.plan(intent, self.counter.state, now)
        if not (isinstance(intent, Press) and intent.button == "next"
                and self.counter.state.mode is Mode.IDLE):
            return None
        return self.tickets.next_call(now)

    def record(self, drafts: Sequence[Draft], also: Sequence[Writer] = ()) -> list[Envelope]:
        """Commit events that are not counter transitions (tickets, comments, slips)."""
        with self._lock:
            events = self._commit(list(drafts), None, also)
            s = self.counter.state
            self._notify(Change(s, s, tuple(events), faults=dict(self.faults),
                                at_perf=time.perf_counter()))
            return events

    def announce(self, message: str, kind: str = "info") -> None:
        """Tell the observers (screen, sound) something that changed no state."""
        with self._lock:
            s = self.counter.state
            self._notify(Change(s, s, (), faults=dict(self.faults), notice=message,
                                notice_kind=kind, at_perf=time.perf_counter()))

    def last_outcome(self) -> Outcome | None:
        """The outcome of the last submit made by this thread (for synchronous callers
        such as the control socket driving a mock pin)."""
        return getattr(self._local, "last", None)

    def clear_last_outcome(self) -> None:
        self._local.last = None

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the core lock across a read-then-record, e.g. numbering a queue ticket.

        Always take this before any lock of your own: observers run under it, so the
        opposite order could deadlock."""
        with self._lock:
            yield

    # ------------------------------------------------------------------ faults

    def fault(self, component: str, fault: Fault, detail: str = "") -> None:
        """A peripheral failed. Recorded once per component until it recovers.

        Called from driver threads (serial read loops, the sign writer, the sound worker,
        gpiozero's callbacks): it never raises. If the disk cannot take the record now,
        the fault is held in memory (screen, health, doctor) and written with the next
        commit that works."""
        with self._lock:
            if self.faults.get(component) == fault:
                return
            self.faults[component] = fault
            known = FAULTS.get(fault)
            log.warning("fault %s: %s (%s) %s", component, fault,
                        known.log if known else "unknown fault", detail)
            self._record_fault(Draft(EventType.DEVICE_FAULT, {
                "component": component, "fault": fault, "detail": detail}))

    def recovered(self, component: str) -> None:
        """The peripheral works again; like :meth:`fault`, never raises."""
        with self._lock:
            fault = self.faults.pop(component, None)
            if fault is None:
                return
            log.info("recovered %s (was %s)", component, fault)
            self._record_fault(Draft(EventType.DEVICE_RECOVERED,
                                     {"component": component, "fault": fault}))

    def _record_fault(self, draft: Draft) -> None:
        try:
            self.record([draft])
        except StoreError:
            # The store fault is already held and on screen; this one waits with it.
            self._unrecorded.append(draft)
            s = self.counter.state
            self._notify(Change(s, s, (), faults=dict(self.faults),
                                at_perf=time.perf_counter()))
        except Exception:
            log.exception("recording %s failed", draft.type)

    # ------------------------------------------------------------------ internals

    def _commit(self, drafts: list[Draft], state: dict | None,
                also: Sequence[Writer] = ()) -> list[Envelope]:
        # After an outage, its record goes in the same transaction as the first commit
        # that works: one transaction, so "on disk" and "in memory" never disagree.
        outage: list[Draft] = []
        if self.faults.get("store") == Fault.COMMIT_FAILED:
            outage = [
                Draft(EventType.DEVICE_FAULT, {"component": "store",
                                               "fault": Fault.COMMIT_FAILED,
                                               "detail": self._store_fault_detail}),
                *self._unrecorded,
                Draft(EventType.DEVICE_RECOVERED, {"component": "store",
                                                   "fault": Fault.COMMIT_FAILED})]
        try:
            events = self.store.append([*drafts, *outage], state=state, also=also)
        except StoreError as exc:
            # Nothing was taken. The store cannot record its own fault, so it is held in
            # memory (screen, health, doctor) and written once a commit works again.
            if "store" not in self.faults:
                self.faults["store"] = Fault.COMMIT_FAILED
                self._store_fault_detail = str(exc)[:200]
                log.error("store: %s", exc)
                s = self.counter.state
                self._notify(Change(s, s, (), faults=dict(self.faults),
                                    notice="系统暂时无法保存，请联系窗口民警", notice_kind="error",
                                    at_perf=time.perf_counter()))
            raise
        if outage:
            del self.faults["store"]
            self._unrecorded.clear()
        for ev in events:
            log.info("event seq=%d %s %s", ev.seq, ev.type, _loggable(ev))
        return events

    def _notify(self, change: Change) -> None:
        for observer in list(self._observers):
            try:
                observer(change)
            except Exception:
                log.exception("observer %r failed", observer)


def _restore(store: Store) -> Snapshot | None:
    saved = store.load_state()
    if saved is None:
        return None
    try:
        return Snapshot.restore(saved)
    except (TypeError, ValueError, KeyError):
        log.exception("saved counter state unreadable; starting idle")
        return None


def _loggable(ev: Envelope) -> str:
    # Events carry no mirror values; the callback phone is the one personal field.
    data = {k: v for k, v in ev.data.items() if k != "callback_phone"}
    return " ".join(f"{k}={v}" for k, v in data.items())

