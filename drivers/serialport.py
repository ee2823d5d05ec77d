"""Serial ports that come back: opened with ``serial.serial_for_url`` and reopened after an
unplug or a re-enumeration of the USB serial adapter.

A USB serial adapter that is pulled out makes every read and write fail (pyserial raises
``SerialException``, an ``OSError``); when it is plugged back in the kernel may give it a
new ``/dev/ttyUSBn``. Configure ports by their ``/dev/serial/by-id/...`` link, which stays
the same across re-enumeration, and :class:`SerialPort` finds the adapter again by just
opening that path once more. Any failure closes the port and raises :class:`PortGone`;
the driver that owns the port decides when to try :meth:`SerialPort.open` again
(:func:`keep_open` does the usual: fault while gone, recovered when back).

Used by the sign, the workstation link (serial) and the scanner. One thread owns a port
(reads and writes); :meth:`close` may be called from another thread to stop it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from device.codes import Fault
from device.errors import DriverError

log = logging.getLogger("serialport")

# What a port that was pulled out raises: SerialException (an OSError) from reads and
# writes, termios.error from flushes, and TypeError/AttributeError/ValueError from a
# pyserial port closed by another thread meanwhile.
_PORT_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, TypeError,
                                                  AttributeError)
try:
    import termios

    _PORT_ERRORS += (termios.error,)
except ImportError:  # not POSIX
    pass


class PortGone(DriverError):
    """The port could not be opened, or a read or write on it failed (it was closed)."""


class FaultSink(Protocol):
    """What :func:`keep_open` reports to: :class:`device.core.Core` in the app."""

    def fault(self, component: str, fault: Fault, detail: str = "") -> None: ...

    def recovered(self, component: str) -> None: ...


Opener = Callable[[], Any]


def url_opener(url: str, baudrate: int, timeout: float = 0.05,
               write_timeout: float = 2.0) -> Opener:
    """An opener for a pyserial URL or device path (imports pyserial only when called)."""

    def open_port() -> Any:
        import serial

        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout,
                                     write_timeout=write_timeout)

    return open_port


class SerialPort:
    """A port that may be gone. ``opener`` returns an open pyserial-like object."""

    def __init__(self, name: str, opener: Opener) -> None:
        self.name = name
        self._opener = opener
        self._port: Any = None
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def open(self) -> None:
        """Open the port if it is closed; raise :class:`PortGone` if it cannot be."""
        with self._lock:
            if self._port is not None:
                return
            try:
                self._port = self._opener()
            except (OSError, ValueError) as exc:  # SerialException is an OSError
                self.last_error = str(exc)
                raise PortGone(f"{self.name}: cannot open the port: {exc}") from None
            self.last_error = ""
            log.info("%s: port open", self.name)

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
        if port is not None:
            # Closing a port that is already gone may fail too; it is closed either way.
            with contextlib.suppress(OSError, ValueError):
                port.close()

    def _fail(self, what: str, exc: BaseException) -> PortGone:
        self.last_error = f"{what} failed: {exc}"
        log.warning("%s: %s; closing the port", self.name, self.last_error)
        self.close()
        return PortGone(f"{self.name}: {self.last_error}")

    def _require(self) -> Any:
        port = self._port
        if port is None:
            raise PortGone(f"{self.name}: the port is not open")
        return port

    def write(self, data: bytes) -> None:
        port = self._require()
        try:
            port.write(data)
            port.flush()
        except _PORT_ERRORS as exc:
            # TypeError/AttributeError: pyserial's posix port after close() from another
            # thread (fd set to None); the port is gone either way.
            raise self._fail("write", exc) from None

    def read(self, size: int = 1) -> bytes:
        """Up to ``size`` bytes; ``b""`` when nothing came within the port's timeout."""
        port = self._require()
        try:
            waiting = port.in_waiting
            data: bytes = port.read(max(1, min(size, waiting)) if waiting else 1)
        except _PORT_ERRORS as exc:
            raise self._fail("read", exc) from None
        return bytes(data)

    def discard_input(self) -> None:
        port = self._require()
        try:
            port.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise self._fail("reset", exc) from None


def keep_open(port: SerialPort, sink: FaultSink, component: str) -> bool:
    """Open ``port`` if needed. Raise ``component`` "gone" while it cannot be opened and
    clear it when it can; returns whether the port is open now."""
    if port.is_open:
        return True
    try:
        port.open()
    except PortGone as exc:
        sink.fault(component, Fault.GONE, str(exc)[:200])
        return False
    sink.recovered(component)
    return True


Session = Callable[[bytes], bytes]


class LineService:
    """A thread that owns one port: reads it, hands the bytes to a session and writes back
    what the session answers, reopening the port after an unplug (fault while gone).

    ``new_session()`` is called each time the port (re)opens, so a half line from before
    an unplug never joins the first line after it. Used by the serial workstation link
    and the QR scanner; ``connected`` is set while the port is open and being read
    (pyserial drops what arrived before open)."""

    def __init__(self, port: SerialPort, component: str, retry_s: float,
                 new_session: Callable[[], Session], read_size: int = 4096) -> None:
        self.port = port
        self.component = component
        self.retry_s = retry_s
        self.new_session = new_session
        self.read_size = read_size
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sink: FaultSink) -> None:
        self._sink = sink
        self._thread = threading.Thread(target=self._run, name=self.component, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.port.close()

    def _run(self) -> None:
        session: Session | None = None
        while not self._stop.is_set():
            if not keep_open(self.port, self._sink, self.component):
                session = None
                self._stop.wait(self.retry_s)
                continue
            if session is None:
                session = self.new_session()
                self.connected.set()
            try:
                data = self.port.read(self.read_size)
                if data:
                    reply = session(data)
                    if reply:
                        self.port.write(reply)
            except PortGone:
                self.connected.clear()
                session = None  # keep_open raises "gone" on the next turn
