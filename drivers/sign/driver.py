"""The sign driver: :class:`SignDriver` keeps the DWIN sign in step with the counter.

It is a core observer: each committed change computes what the sign should show
(:func:`~drivers.sign.view.view_for`) and hands it to the driver's own writer thread,
which sends only the variables that differ, waits for each "OK" (retrying
``sign.retries`` times, else :class:`SignNoReply` and the ``no_reply`` fault), reopens
the port when the USB adapter was unplugged, and resends everything when the sign is
back and every ``sign.refresh_s``. The core lock is never held across serial I/O.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from device.codes import Fault
from device.config import Config, SignSection
from device.core import Change, Core
from device.errors import DriverError, ParseError
from drivers.base import BaseDriver, ControlHandler
from drivers.serialport import Opener, PortGone, SerialPort, keep_open
from drivers.sign.codec import Ack, FrameReader, parse_reply, write_frame
from drivers.sign.emulator import SimSign
from drivers.sign.view import SignView, view_for

log = logging.getLogger("sign")


class SignNoReply(DriverError):
    """The display did not answer OK to a write after every retry."""


class SignDriver(BaseDriver):
    """Keeps the DWIN sign in step with the counter, from its own writer thread."""

    name = "sign"

    def __init__(self, config: Config, opener: Opener,
                 monotonic: Callable[[], float] = time.monotonic, *,
                 sim: SimSign | None = None) -> None:
        """``opener`` opens the port (drivers/registry.py chose it); ``sim`` is the
        emulated display behind it when it is one, which `kiosk sim sign` shows."""
        self.config = config
        self.cfg: SignSection = config.sign
        self.sim = sim
        self.port = SerialPort("sign", opener)
        self._monotonic = monotonic
        self._cond = threading.Condition()
        self._desired: SignView | None = None
        self._shown: dict[int, bytes] = {}  # what the sign confirmed, per VP
        self._stop = False
        self._thread: threading.Thread | None = None
        self._last_full = 0.0
        self.writes_done = 0  # frames answered OK (for tests and benchmarks)

    # -------------------------------------------------------------- lifecycle

    def start(self, core: Core) -> None:
        self.core = core
        with self._cond:
            self._desired = view_for(core.state, self.config, core.state.ticket)
        core.subscribe(self.on_change)
        self._thread = threading.Thread(target=self._run, name="sign", daemon=True)
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if hasattr(self, "core"):
            with contextlib.suppress(ValueError):
                self.core.unsubscribe(self.on_change)
        self.port.close()

    # -------------------------------------------------------------- observer (core lock held)

    def on_change(self, change: Change) -> None:
        # The number being served is the core's (the open case's ticket, cleared when the
        # case ends and at midnight), not whatever ticket.called came last.
        view = view_for(change.after, self.config, change.after.ticket)
        with self._cond:
            if view != self._desired:
                self._desired = view
                self._cond.notify_all()

    @property
    def desired(self) -> SignView | None:
        with self._cond:
            return self._desired

    def wait_idle(self, timeout: float) -> bool:
        """Block until the sign shows the desired view (tests, `kiosk sim sign`)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._in_step():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def _in_step(self) -> bool:
        return self._desired is not None and all(
            self._shown.get(vp) == data for vp, data in self._desired.writes())

    # -------------------------------------------------------------- writer thread

    def _pending(self) -> list[tuple[int, bytes]]:
        with self._cond:
            if self._desired is None:
                return []
            return [(vp, d) for vp, d in self._desired.writes() if self._shown.get(vp) != d]

    def _run(self) -> None:
        retry_s = self.cfg.retry_s
        while True:
            with self._cond:
                if self._stop:
                    return
            if not keep_open(self.port, self.core, "sign"):
                self._forget()
                self._sleep(retry_s)
                continue
            if self._monotonic() - self._last_full >= self.cfg.refresh_s:
                # The sign may have been power-cycled (blank) without us seeing it: resend.
                self._forget()
                self._last_full = self._monotonic()
            try:
                for vp, data in self._pending():
                    self._write(vp, data)
            except PortGone:
                self._forget()
                continue  # keep_open raises the fault and retries
            except SignNoReply as exc:
                self.core.fault("sign", Fault.NO_REPLY, str(exc))
                self._forget()
                self._sleep(retry_s)
                continue
            if "sign" in self.core.faults:
                self.core.recovered("sign")
            with self._cond:
                if self._stop:
                    return
                if self._in_step():
                    self._cond.notify_all()
                    left = self.cfg.refresh_s - (self._monotonic() - self._last_full)
                    self._cond.wait(max(0.05, left))

    def _sleep(self, seconds: float) -> None:
        with self._cond:
            if not self._stop:
                self._cond.wait(seconds)

    def _forget(self) -> None:
        with self._cond:
            self._shown.clear()

    def _write(self, vp: int, data: bytes) -> None:
        frame = write_frame(vp, data, self.cfg.crc)
        for attempt in range(1 + self.cfg.retries):
            if self._stop:  # closing: do not sit out the remaining retries
                raise PortGone("sign: closing")
            self.port.discard_input()
            self.port.write(frame)
            if self._await_ok():
                with self._cond:
                    self._shown[vp] = data
                    self.writes_done += 1
                    self._cond.notify_all()
                return
            log.info("sign: no OK for VP %04X (attempt %d)", vp, attempt + 1)
        raise SignNoReply(
            f"no OK from the sign for VP {vp:04X} after {1 + self.cfg.retries} tries "
            f"({self.cfg.reply_timeout_s:g} s each); check the cable, the baud rate "
            f"({self.cfg.baudrate}) and sign.crc ({str(self.cfg.crc).lower()})")

    def _await_ok(self) -> bool:
        reader = FrameReader()
        deadline = self._monotonic() + self.cfg.reply_timeout_s
        while self._monotonic() < deadline:
            chunk = self.port.read(64)
            for raw in reader.feed(chunk):
                try:
                    if isinstance(parse_reply(raw, self.cfg.crc), Ack):
                        return True
                except ParseError as exc:
                    log.debug("sign: ignored reply: %s", exc)
        return False

    # -------------------------------------------------------------- simulation

    def control_commands(self) -> dict[str, ControlHandler]:
        if self.sim is None:
            return {}
        return {"sign": self._sim_sign}

    def _sim_sign(self, req: dict[str, Any]) -> dict[str, Any]:
        in_step = self.wait_idle(2.0)
        assert self.sim is not None
        return {"ok": True, "in_step": in_step, **self.sim.emulator.snapshot()}
