"""The print worker: one thread that prints pending jobs in order, exactly once.

Woken by an Event (set by a core observer whenever something was committed, so a new
job is seen at once) and, while the printer is faulted, every ``retry_s``; an idle
printer's status is read every 30 s so paper out shows before a citizen needs a slip. For each job:

1. lay it out (pure; no printer needed),
2. ask the printer's status (DLE EOT); a known fault stops here, nothing is sent,
3. send the job's bytes,
4. ask the status again: paper out or cover open now means the job was cut short,
5. commit ``Store.mark_printed`` (with ``slip.printed`` for slips) in one transaction.

A failure at any step raises ``device.fault`` ("printer", fault), tells the screen, and
leaves the job pending; it is printed whole when the printer is back (after a buffer
clear, so the printer does not first finish the torn copy).

Printed twice: if the process dies between step 3 and the commit in step 5, the job is
still pending and prints again after the restart. That window is one status query plus
one SQLite commit (milliseconds); it is documented in docs/printer.md. The opposite
order (mark, then print) would lose the job instead, which the counter must never do.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from device.codes import FAULTS, Fault
from device.core import Change, Core
from device.errors import DriverError, ParseError
from device.events import Draft, EventType
from device.printjobs import PrintJob
from drivers.printer import commands as cmd
from drivers.printer.chinese import Fonts
from drivers.printer.layout import Profile, job_bytes
from drivers.printer.status import UNKNOWN, Paper, PrinterStatus, parse_status
from drivers.printer.transports import PrinterError, Transport

log = logging.getLogger("printer")

COMPONENT = "printer"
IDLE_PROBE_S = 30.0  # status poll of an idle, healthy printer

# What the citizen sees on screen (core.announce) when the printer fails: the fault in
# the fault table's words, then what this worker guarantees (the job stays pending).
SLIP_KEPT = "，请联系窗口民警。您的单据不会丢失，恢复后自动打印。"
RECOVERED = "打印机已恢复，正在打印您的单据。"


def announcement(fault: Fault) -> str:
    """The screen's notice for a printer ``fault``."""
    return FAULTS.get(fault, FAULTS[Fault.ERROR]).citizen + SLIP_KEPT


def read_status(transport: Transport) -> PrinterStatus:
    """Ask DLE EOT 1, 2, 3, 4 where the transport can read. No answer: unknown."""
    if not transport.can_read:
        return UNKNOWN
    status = UNKNOWN
    for n in (1, 2, 3, 4):
        reply = transport.query(n)
        if not reply:
            if n == 1:
                break  # a printer that ignores DLE EOT 1 ignores the rest: save the waits
            continue
        try:
            status = status.merge(parse_status(n, reply))
        except ParseError as exc:
            log.warning("printer: %s", exc)
    return status


def slip_event(job: PrintJob) -> Draft | None:
    """The event committed with a job's completion (tickets: ticket.issued said it)."""
    if job.kind == "ticket":
        return None
    data = job.data if isinstance(job.data, dict) else {}
    body: dict[str, Any] = {"job_id": job.id, "kind": job.kind}
    # Only codes and versions: job data may never carry personal data into events.
    for key in ("catalogue_version", "service_code", "case_no"):
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            body[key] = value
    if job.kind == "checklist":
        body.setdefault("catalogue_version", "")
    return Draft(EventType.SLIP_PRINTED, body)


class PrintWorker:
    def __init__(self, core: Core, transport: Transport, profile: Profile, *,
                 retry_s: float = 5.0) -> None:
        self.core = core
        self.transport = transport
        self.profile = profile
        self.retry_s = retry_s
        self.wake = threading.Event()
        self.status: PrinterStatus = UNKNOWN
        self.printed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fonts: Fonts | None = None
        self._interrupted = False  # the last job was cut short: clear buffers first
        self._step_lock = threading.Lock()
        self._last_probe = float("-inf")

    # ------------------------------------------------------------------ thread

    def on_change(self, change: Change) -> None:
        """Core observer: anything committed may be a new job (cheap: sets an Event)."""
        if change.intent is None or change.events:
            self.wake.set()

    def start(self) -> None:
        self.wake.set()  # jobs left pending by the last run print now
        self._thread = threading.Thread(target=self._run, name="printer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def faulted(self) -> bool:
        return COMPONENT in self.core.faults

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wake.wait(self.retry_s if self.faulted else IDLE_PROBE_S)
            self.wake.clear()
            if self._stop.is_set():
                return
            try:
                self.step()
            except Exception:  # a bug must not kill the thread that prints tickets
                log.exception("printer worker step failed")

    # ------------------------------------------------------------------ one pass

    def step(self) -> int:
        """Print every pending job in order until the queue is empty or the printer
        fails. Returns how many were printed. Tests call this directly."""
        with self._step_lock:
            done = 0
            skipped: set[int] = set()
            while not self._stop.is_set():
                jobs = [j for j in self._pending() if j.id not in skipped]
                if not jobs:
                    # Idle: look at the printer now and then, so paper out or an open
                    # cover shows on screen before a citizen needs a slip.
                    now = time.monotonic()
                    if done == 0 and (self.faulted or now - self._last_probe >= self.retry_s):
                        self._last_probe = now
                        self._probe()
                    return done
                for job in jobs:
                    try:
                        self._print(job)
                    except PrinterError as exc:
                        self._failed(job, exc)
                        return done
                    except Exception as exc:  # layout bug: keep the job, print the rest
                        log.exception("printer: job %d (%s) cannot be laid out", job.id,
                                      job.kind)
                        self._note_attempt(job, f"layout: {exc}"[:200])
                        skipped.add(job.id)
                        continue
                    done += 1
            return done

    def _pending(self) -> list[PrintJob]:
        return self.core.store.pending_prints()

    def _print(self, job: PrintJob) -> None:
        data = self._layout(job)
        self.transport.open()
        before = read_status(self.transport)
        self.status = before
        if before.fault:
            raise PrinterError(before.fault, f"status {before.as_dict()['replies']} "
                               f"before job {job.id}")
        if self._interrupted:
            # The torn copy may still sit in the printer's buffer: drop it, then reprint.
            self.transport.write(cmd.CLEAR_BUFFERS)
        self.transport.write(data)
        after = read_status(self.transport)
        self.status = after
        if after.fault:
            self._interrupted = True
            raise PrinterError(after.fault, f"during job {job.id} ({job.kind}); "
                               "it will be printed again in full")
        self._interrupted = False
        self._recovered()  # (cheap when not faulted) the printer took a whole job
        # The bytes are in the printer: commit at once (the "printed twice" window).
        draft = slip_event(job)
        self.core.record([draft] if draft else [], also=[self.core.store.mark_printed(job.id)])
        self.printed += 1
        log.info("printer: job %d (%s) printed, %d bytes", job.id, job.kind, len(data))
        if after.paper is Paper.NEAR_END:
            log.warning("printer: paper near end")

    def _layout(self, job: PrintJob) -> bytes:
        if self.profile.chinese == "raster" and self._fonts is None:
            self._fonts = self._load_fonts()  # once: fonts are cached for the process
        try:
            return job_bytes(job, self.profile, self._fonts)
        except DriverError as exc:  # a raster line needs a font that is not installed
            raise PrinterError(Fault.NO_FONT, str(exc)) from exc

    def _load_fonts(self) -> Fonts:
        try:
            return self.profile.fonts()
        except DriverError as exc:
            raise PrinterError(Fault.NO_FONT, str(exc)) from exc

    def _probe(self) -> None:
        """Faulted with nothing to print: is the printer back?"""
        try:
            self.transport.open()
            status = read_status(self.transport)
        except PrinterError as exc:
            self._fault(exc)
            return
        self.status = status
        if status.answered and not status.fault:
            self._recovered()
        elif status.fault:
            self._fault(PrinterError(status.fault, "printer still reports it"))

    # ------------------------------------------------------------------ faults

    def _failed(self, job: PrintJob, exc: PrinterError) -> None:
        log.warning("printer: job %d (%s) not printed: %s", job.id, job.kind, exc)
        self._note_attempt(job, str(exc)[:200])
        if exc.fault == Fault.PORT_GONE:
            self.transport.close()  # reopen next time: the adapter may come back
        self._fault(exc)

    def _fault(self, exc: PrinterError) -> None:
        fault = exc.fault
        new = self.core.faults.get(COMPONENT) != fault
        self.core.fault(COMPONENT, fault, exc.detail[:200])
        if new:
            self.core.announce(announcement(fault), "error")

    def _recovered(self) -> None:
        if self.faulted:
            self.core.recovered(COMPONENT)
            self.core.announce(RECOVERED, "info")

    def _note_attempt(self, job: PrintJob, error: str) -> None:
        self.core.store.print_failed(job.id, error)
