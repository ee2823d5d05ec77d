"""A serial line with the simulator at the far end, for ``url = "sim://"`` (link, scanner).

:class:`SimPort` is the fake that ships with the drivers, the way gpiozero ships its
MockFactory: the driver opens it like any pyserial port (:meth:`SimPort.opener`) and
reads it from the same :class:`~drivers.serialport.LineService` thread, through the same
line framing, limits and parser as a USB serial device. `kiosk sim link` and `kiosk sim
scan` only put bytes on the wire (:meth:`SimPort.exchange`); nothing in the simulator
calls the parser itself, so a too-long line or a flood meets the limits a real counter
has.

``exchange`` returns once the driver has *processed* the bytes, not merely read them: the
reader thread reads, hands the chunk to its session, writes the reply, and only then
comes back to read again, so a read call that finds every sent byte taken marks them all
as done.
"""

from __future__ import annotations

import threading
from typing import Any

KEEP_OUT = 1 << 16  # bytes of unanswered output kept for the next exchange


class _KioskEnd:
    """What the driver's :class:`~drivers.serialport.SerialPort` holds: a pyserial-like
    port whose reads wait at most ``timeout`` (like pyserial's read timeout)."""

    def __init__(self, line: SimPort, timeout: float) -> None:
        self._line = line
        self._timeout = timeout
        self._closed = False

    @property
    def in_waiting(self) -> int:
        self._check()
        return self._line._waiting()

    def read(self, size: int = 1) -> bytes:
        self._check()
        return self._line._read(size, self._timeout)

    def write(self, data: bytes) -> int:
        self._check()
        self._line._written(bytes(data))
        return len(data)

    def flush(self) -> None:
        self._check()

    def reset_input_buffer(self) -> None:
        self._check()
        self._line._discard()

    def close(self) -> None:
        self._closed = True

    def _check(self) -> None:
        if self._closed:  # like pyserial: a closed port refuses I/O
            raise OSError("simulated port is closed")


class SimPort:
    """Both ends of one simulated serial line; the driver's end is opened by
    :meth:`opener`, the simulator's end is :meth:`exchange`."""

    def __init__(self, read_timeout: float = 0.05) -> None:
        self._cond = threading.Condition()
        self._exchanging = threading.Lock()  # one `kiosk sim` request on the wire at a time
        self._read_timeout = read_timeout
        self._in = bytearray()  # sent by the simulator, not yet read by the driver
        self._out = bytearray()  # written by the driver since the last exchange
        self._sent = 0  # bytes the simulator sent, in total
        self._taken = 0  # of those, bytes the driver read
        self._done = 0  # of those, bytes the driver read and came back from (processed)

    def opener(self) -> Any:
        """Open the driver's end (a :data:`~drivers.serialport.Opener`)."""
        return _KioskEnd(self, self._read_timeout)

    def exchange(self, data: bytes, timeout: float = 5.0) -> bytes | None:
        """Send ``data`` to the driver and wait until it has processed all of it; returns
        what the driver wrote back meanwhile, or None if it did not get there within
        ``timeout`` (not started, or stuck)."""
        with self._exchanging, self._cond:
            self._out.clear()
            self._in += data
            self._sent += len(data)
            target = self._sent
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._done >= target, timeout):
                return None
            reply = bytes(self._out)
            self._out.clear()
            return reply

    # ------------------------------------------------------------ the driver's end

    def _waiting(self) -> int:
        with self._cond:
            return len(self._in)

    def _read(self, size: int, timeout: float) -> bytes:
        with self._cond:
            # Coming back to read means every byte read before has been processed.
            self._done = self._taken
            self._cond.notify_all()
            if not self._in:
                self._cond.wait(timeout)
            data = bytes(self._in[:size])
            del self._in[:size]
            self._taken += len(data)
            return data

    def _written(self, data: bytes) -> None:
        with self._cond:
            self._out += data
            del self._out[:-KEEP_OUT]

    def _discard(self) -> None:
        with self._cond:
            self._taken += len(self._in)
            self._in.clear()


def one_reply(replies: list[dict[str, Any]], none: dict[str, Any]) -> dict[str, Any]:
    """The reply to one `kiosk sim` request: the driver's one reply, ``none`` when it gave
    none, or all of them when the text held several lines."""
    if not replies:
        return none
    if len(replies) == 1:
        return replies[0]
    return {"ok": all(r.get("ok") is True for r in replies), "replies": replies}
