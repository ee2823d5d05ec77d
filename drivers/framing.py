"""Framing shared by the serial and TCP line devices (workstation link, QR scanner):
bytes in, whole bounded lines out, and a token bucket for how many a second are taken.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable


class TooLong:
    """Stands for a line that went over the limit (its bytes were dropped)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit


class LineSplitter:
    """Bytes in, whole lines out (without the terminator); at most ``max_bytes`` of one
    line are ever buffered. A longer line yields one :class:`TooLong` as soon as it goes
    over, and its remaining bytes are dropped up to the next terminator."""

    def __init__(self, max_bytes: int, terminators: bytes = b"\n") -> None:
        self.max_bytes = max_bytes
        self._seps = re.compile(b"[" + re.escape(terminators) + b"]")
        self._buf = bytearray()
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | TooLong]:
        out: list[bytes | TooLong] = []
        pos = 0
        while True:
            m = self._seps.search(data, pos)
            piece = data[pos:m.start()] if m else data[pos:]
            if self._discarding:
                if m is None:
                    return out
                self._discarding = False
            elif len(self._buf) + len(piece) > self.max_bytes:
                self._buf.clear()
                out.append(TooLong(self.max_bytes))
                if m is None:
                    self._discarding = True
                    return out
            elif m is None:
                self._buf += piece
                return out
            else:
                out.append(bytes(self._buf) + piece)
                self._buf.clear()
            pos = m.end()


class RateLimiter:
    """A token bucket: ``per_s`` lines a second on average, bursts of up to ``per_s``."""

    def __init__(self, per_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = float(per_s)
        self._clock = clock
        self._tokens = self.per_s
        self._at = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(self.per_s, self._tokens + (now - self._at) * self.per_s)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
