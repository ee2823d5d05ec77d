"""How bytes reach the printer: USB, serial (any pyserial URL), network, or the simulator.

Each transport drives a python-escpos printer object through its one primitive,
``_raw(bytes)`` (and ``_read()`` for status), so the layout never depends on how the
printer is connected. python-escpos's own Serial class opens ``serial.Serial(port=...)``
and so cannot take pyserial URLs (``socket://``, ``loop://``, a pty): :class:`UrlSerial`
wraps ``serial.serial_for_url`` the same way python-escpos wraps its devices.

Errors become :class:`DriverError` with ``fault`` set to what the counter reports:
``port_gone`` (cannot open / write), ``offline`` (write blocked: a printer out of paper
or with its cover open stops taking bytes under flow control).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos
from escpos.printer import Dummy

from device.codes import Fault
from device.errors import DriverError
from drivers.printer import commands as cmd
from drivers.printer.status import Paper, status_byte

log = logging.getLogger("printer")

WRITE_CHUNK = 1024  # 0.5 s at 19200 baud
WRITE_TIMEOUT_S = 10.0  # per chunk: a printer that takes nothing this long is stopped
SIM_LOG_MAX = 8 << 20  # bytes kept in <state_dir>/printer-sim.bin


class PrinterError(DriverError):
    """A printer failure with the fault name the counter records (device.fault)."""

    def __init__(self, fault: Fault, detail: str) -> None:
        super().__init__(f"printer {fault}: {detail}")
        self.fault = fault
        self.detail = detail


class Transport:
    """The small interface the worker uses. ``can_read``: DLE EOT gets an answer."""

    name = "transport"
    can_read = True

    def open(self) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def query(self, n: int) -> bytes:
        """Send DLE EOT ``n``, return the reply (b"" when nothing came in time)."""
        raise NotImplementedError

    def close(self) -> None:
        pass


class _EscposTransport(Transport):
    """A transport over a python-escpos printer object (its ``_raw`` and ``_read``)."""

    printer: Escpos | None = None

    def _make(self) -> Escpos:
        raise NotImplementedError

    def open(self) -> None:
        if self.printer is not None:
            return
        try:
            p = self._make()
            p.open()
        except DriverError:
            raise
        except Exception as exc:
            raise PrinterError(Fault.PORT_GONE, f"cannot open {self.name}: {exc}") from exc
        self.printer = p

    def _p(self) -> Escpos:
        if self.printer is None:
            self.open()
        assert self.printer is not None
        return self.printer

    def write(self, data: bytes) -> None:
        p = self._p()
        try:
            # In chunks: a write timeout then means "the printer stopped taking bytes",
            # not "a 70 KB raster slip takes 37 s at 19200 baud".
            for start in range(0, len(data), WRITE_CHUNK):
                p._raw(data[start:start + WRITE_CHUNK])
        except PrinterError:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise PrinterError(Fault.PORT_GONE, f"write to {self.name} failed: {exc}") from exc

    def query(self, n: int) -> bytes:
        p = self._p()
        try:
            self._drain()
            p._raw(cmd.status_query(n))
        except Exception as exc:  # cannot even send 3 bytes: the port is gone
            self.close()
            raise PrinterError(Fault.PORT_GONE, f"status query on {self.name} failed: {exc}") \
                from exc
        try:
            return bytes(p._read() or b"")
        except Exception as exc:
            # No way to read (a write-only USB printer without an IN endpoint, a read
            # timeout): unknown, not a fault. A port that is really gone fails the next
            # write, which is what raises the fault.
            if not _is_timeout(exc) and self.name not in _NO_READ_LOGGED:
                _NO_READ_LOGGED.add(self.name)
                log.warning("printer: %s gives no status (%s); treating it as unknown",
                            self.name, exc)
            return b""

    def _drain(self) -> None:
        """Drop stray input (an ASB byte, a reply to a DLE EOT that sat inside image data)
        so the next byte read is the answer to our query."""

    def close(self) -> None:
        p, self.printer = self.printer, None
        if p is not None:
            with contextlib.suppress(Exception):
                p.close()


_NO_READ_LOGGED: set[str] = set()


def _is_timeout(exc: BaseException) -> bool:
    return "timeout" in type(exc).__name__.lower() or "timed out" in str(exc).lower()


# --------------------------------------------------------------------------- serial


class UrlSerial(Escpos):
    """A python-escpos printer on ``serial.serial_for_url`` (device path, pty, socket://)."""

    def __init__(self, url: str, baudrate: int = 19200, timeout: float = 0.5,
                 write_timeout: float = WRITE_TIMEOUT_S, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.url = url
        self.baudrate = baudrate
        self.timeout = timeout
        self.write_timeout = write_timeout

    def open(self) -> None:
        import serial

        # rtscts: a serial printer that is out of paper drops CTS; with flow control the
        # write blocks (write_timeout -> "offline") instead of losing bytes.
        self.device = serial.serial_for_url(
            self.url, baudrate=self.baudrate, timeout=self.timeout,
            write_timeout=self.write_timeout)

    def _raw(self, msg: bytes) -> None:
        import serial

        dev: Any = self.device
        try:
            dev.write(msg)
            dev.flush()
        except serial.SerialTimeoutException as exc:
            raise PrinterError(Fault.OFFLINE, f"{self.url} took no data for "
                               f"{self.write_timeout} s") from exc

    def _read(self) -> bytes:
        dev: Any = self.device
        return bytes(dev.read(1))

    def close(self) -> None:
        dev: Any = getattr(self, "_device", False)
        if dev:
            with contextlib.suppress(Exception):
                dev.close()
        self._device = False


class SerialTransport(_EscposTransport):
    def __init__(self, url: str, baudrate: int = 19200, timeout: float = 0.5) -> None:
        self.url = url
        self.name = f"serial {url}"
        self.baudrate = baudrate
        self.timeout = timeout

    def _make(self) -> Escpos:
        return UrlSerial(self.url, self.baudrate, self.timeout)

    def _drain(self) -> None:
        dev: Any = self.printer.device if self.printer is not None else None
        if dev is not None:
            dev.reset_input_buffer()


# --------------------------------------------------------------------------- network


class NetworkTransport(_EscposTransport):
    """Raw TCP (port 9100 by default). Most network printers answer DLE EOT on the same
    socket; one that does not gives "unknown", never "ok"."""

    def __init__(self, url: str, timeout: float = 0.5) -> None:
        host, _, port = url.removeprefix("tcp://").rpartition(":")
        if not host or not port.isdigit():
            host, port = url.removeprefix("tcp://"), "9100"
        self.host, self.port = host, int(port)
        self.name = f"network {self.host}:{self.port}"
        self.timeout = timeout

    def _make(self) -> Escpos:
        from escpos.printer import Network

        return Network(self.host, self.port, timeout=max(self.timeout, 3.0))

    def open(self) -> None:
        super().open()
        sock: Any = self.printer.device if self.printer is not None else None
        if sock is None:
            self.printer = None
            raise PrinterError(Fault.PORT_GONE, f"cannot connect to {self.name}")
        # Writes wait while a printing printer's TCP window is full; reads (status) do not.
        sock.settimeout(WRITE_TIMEOUT_S)

    def query(self, n: int) -> bytes:
        self._p()
        sock: Any = self.printer.device if self.printer is not None else None
        if sock is not None:
            sock.settimeout(self.timeout)
        try:
            return super().query(n)
        finally:
            if self.printer is not None and self.printer.device is not None:
                self.printer.device.settimeout(WRITE_TIMEOUT_S)

    def _drain(self) -> None:
        sock: Any = self.printer.device if self.printer is not None else None
        if sock is None:
            return
        sock.setblocking(False)
        try:
            while sock.recv(64):
                pass
        except (BlockingIOError, OSError):
            pass
        finally:
            sock.settimeout(self.timeout)


# --------------------------------------------------------------------------- usb


class UsbTransport(_EscposTransport):
    """pyusb through python-escpos. Needs a udev rule (docs/printer.md) and the kernel's
    usblp driver detached, else "Resource busy"."""

    def __init__(self, vendor: int, product: int, timeout: float = 0.5) -> None:
        self.vendor, self.product = vendor, product
        self.name = f"usb {vendor:04x}:{product:04x}"
        self.timeout = timeout

    def _make(self) -> Escpos:
        from escpos.printer import Usb

        # pyusb's timeout is per write (one chunk); status reads use pyusb's default 1 s.
        return Usb(self.vendor, self.product, timeout=int(WRITE_TIMEOUT_S * 1000))


# --------------------------------------------------------------------------- simulator


class SimDevice(Dummy):
    """python-escpos's Dummy with a printer's state: paper, cover, online, plugged in.

    ``paper_after``: the paper runs out after that many more bytes (a job cut short).
    Everything that reached the paper is kept (``jobs``) and, if ``log_path`` is set,
    appended to that file so a demo can look at it.
    """

    def __init__(self, log_path: Path | None = None, keep: int = 20) -> None:
        Dummy.__init__(self)
        self.lock = threading.Lock()
        self.paper = Paper.OK
        self.cover_open = False
        self.offline = False
        self.unplugged = False
        self.paper_after: int | None = None
        self.jobs: deque[bytes] = deque(maxlen=keep)
        self.log_path = log_path
        self.written = 0

    def _raw(self, msg: bytes) -> None:
        with self.lock:
            if self.unplugged:
                raise PrinterError(Fault.PORT_GONE, "simulated printer unplugged")
            if self.paper is Paper.OUT or self.cover_open or self.offline:
                return  # a stopped printer takes nothing (the bytes are lost in it)
            if self.paper_after is not None and len(msg) > self.paper_after:
                msg = msg[:self.paper_after]
                self.paper, self.paper_after = Paper.OUT, None
            elif self.paper_after is not None:
                self.paper_after -= len(msg)
            Dummy._raw(self, msg)
            self.written += len(msg)
            if msg.startswith(cmd.INIT):
                self.jobs.append(msg)
            elif self.jobs:
                self.jobs[-1] += msg
            if self.log_path is not None:
                # A demo runs for days: start the file afresh past SIM_LOG_MAX.
                big = self.log_path.exists() and self.log_path.stat().st_size > SIM_LOG_MAX
                with open(self.log_path, "wb" if big else "ab") as f:
                    f.write(msg)

    def answer(self, n: int) -> bytes:
        with self.lock:
            if self.unplugged:
                raise PrinterError(Fault.PORT_GONE, "simulated printer unplugged")
            return bytes([status_byte(n, offline=self.offline or self.paper is Paper.OUT
                                      or self.cover_open, cover_open=self.cover_open,
                                      paper=self.paper)])


class SimTransport(Transport):
    name = "sim"

    def __init__(self, device: SimDevice) -> None:
        self.device = device

    def open(self) -> None:
        if self.device.unplugged:
            raise PrinterError(Fault.PORT_GONE, "simulated printer unplugged")

    def write(self, data: bytes) -> None:
        self.device._raw(data)

    def query(self, n: int) -> bytes:
        return self.device.answer(n)
