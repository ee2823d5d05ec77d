"""The display's side of the wire, for the simulator, the tests and the fuzzers.

:class:`SignEmulator` decodes the host's frames into VP memory and the current page and
answers each write "OK" the way a DGUS display does (ignoring bad frames, optionally
staying mute); :class:`SimSign` is a pyserial-like port with an emulator behind it, which
drivers/registry.py opens for ``sign.url = "sim://"`` and ``kiosk sim sign`` shows.
"""

from __future__ import annotations

import threading
from typing import Any

from device.errors import ParseError
from drivers.sign.codec import (
    CMD_READ,
    CMD_WRITE,
    PAGE_NAMES,
    TEXT_VARS,
    VARS_BY_NAME,
    VP_PAGE,
    Frame,
    FrameReader,
    _frame,
    decode_frame,
    decode_text,
    ok_frame,
)

HISTORY = 1000  # frames the emulator keeps for `kiosk sim sign` and the tests


class SignEmulator:
    """The display's side: decodes frames, keeps VP memory and the page, answers OK.

    Used by :class:`SimSign` and by the tests' fake DWIN on a pty. ``mute`` > 0 swallows
    that many replies (a sign that does not answer)."""

    def __init__(self, crc: bool = False) -> None:
        self.crc = crc
        self.memory = bytearray(0x10000 * 2)  # 64 Ki words, like the T5L's VP space
        self.page = 0
        self.frames: list[Frame] = []
        self.errors: list[str] = []
        self.mute = 0
        self._reader = FrameReader()
        self._lock = threading.Lock()

    def set_mute(self, replies: int) -> None:
        """Swallow the next ``replies`` answers (0: answer again), thread-safe."""
        with self._lock:
            self.mute = replies

    def feed(self, data: bytes) -> bytes:
        """Bytes from the host; returns the bytes the display sends back."""
        out = bytearray()
        with self._lock:
            for raw in self._reader.feed(data):
                try:
                    frame = decode_frame(raw, self.crc)
                except ParseError as exc:
                    self.errors.append(str(exc))
                    del self.errors[:-HISTORY]
                    continue  # a real DGUS ignores a bad frame: no reply
                self.frames.append(frame)
                if len(self.frames) > 2 * HISTORY:
                    # A simulated sign runs for days: keep the newest frames, not all.
                    del self.frames[:-HISTORY]
                reply = self._apply(frame)
                if self.mute > 0:
                    self.mute -= 1
                    continue
                out += reply
        return bytes(out)

    def _apply(self, f: Frame) -> bytes:
        at = f.vp * 2
        if f.cmd == CMD_WRITE:
            data = f.data[: len(self.memory) - at]
            self.memory[at:at + len(data)] = data
            if f.vp == VP_PAGE and len(f.data) >= 4 and f.data[:2] == b"\x5a\x01":
                self.page = f.data[2] << 8 | f.data[3]
            return ok_frame(self.crc)
        data = bytes(self.memory[at:at + 2 * f.words]).ljust(2 * f.words, b"\x00")
        return _frame(bytes((CMD_READ, f.vp >> 8, f.vp & 0xFF, f.words)) + data, self.crc)

    def text(self, name: str) -> str:
        var = VARS_BY_NAME[name]
        with self._lock:
            return decode_text(bytes(self.memory[var.vp * 2: var.vp * 2 + var.size]))

    def texts(self) -> dict[str, str]:
        return {v.name: self.text(v.name) for v in TEXT_VARS}

    def snapshot(self) -> dict[str, Any]:
        return {"page": self.page, "page_name": PAGE_NAMES.get(self.page, str(self.page)),
                "text": self.texts()}


class SimSign:
    """A pyserial-like port with a :class:`SignEmulator` behind it (``sign.url = "sim://"``)."""

    def __init__(self, crc: bool = False) -> None:
        self.emulator = SignEmulator(crc)
        self._out = bytearray()
        self._cond = threading.Condition()

    @property
    def in_waiting(self) -> int:
        return len(self._out)

    def write(self, data: bytes) -> int:
        reply = self.emulator.feed(bytes(data))
        with self._cond:
            self._out += reply
            self._cond.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            if not self._out:
                self._cond.wait(0.05)  # like a port's read timeout
            data = bytes(self._out[:size])
            del self._out[:size]
            return data

    def reset_input_buffer(self) -> None:
        with self._cond:
            self._out.clear()

    def close(self) -> None:
        pass
