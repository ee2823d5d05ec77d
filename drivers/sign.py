"""The away sign: a DWIN DGUS serial display that shows the window's status to the queue.

Protocol (DGUS II "T5L" serial, docs/sign.md)::

    5A A5 | LEN | CMD | VP hi VP lo | DATA ... | [CRC lo CRC hi]

LEN counts the bytes from CMD to the end (the CRC included when it is on). CMD 0x82
writes DATA to the variable at VP (16-bit word address, big-endian), 0x83 reads
(DATA = number of words). The display answers every write with ``5A A5 03 82 4F 4B``
("OK"; with CRC ``5A A5 05 82 4F 4B lo hi``). CRC-16/MODBUS covers CMD..DATA and is sent
little-endian. Text variables hold GBK, ended by ``FF FF`` and padded with ``FF`` to the
field's size so no old characters remain. Pages are switched through the system
register VP 0x0084 with ``5A 01 00 PP``.

:class:`SignDriver` is a core observer: each committed change computes what the sign
should show (:func:`view_for`) and hands it to the driver's own writer thread, which
sends only the variables that differ, waits for each "OK" (retrying ``sign.retries``
times), reopens the port when the USB adapter was unplugged, and resends everything when
the sign is back. The core lock is never held across serial I/O.

:class:`SimSign` is a serial-like object backed by :class:`SignEmulator`, which decodes the
frames into the sign's current page and text per VP; ``kiosk sim sign`` shows it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from device.config import Config, SignSection
from device.core import Change, Core
from device.counter import Mode, Snapshot
from device.errors import DriverError, ParseError
from drivers.base import BaseDriver, ControlHandler
from drivers.serialport import Opener, PortGone, SerialPort, keep_open, url_opener

log = logging.getLogger("sign")

HEADER = b"\x5a\xa5"
CMD_WRITE = 0x82
CMD_READ = 0x83
MAX_LEN = 0xFF  # the length byte
OK = b"OK"
MAX_READ_WORDS = 0x7C

# ----------------------------------------------------------------- the VP address map

VP_PAGE = 0x0084  # system register: write 5A 01 00 PP to show page PP


@dataclass(frozen=True)
class TextVar:
    name: str
    vp: int
    size: int  # bytes the field holds, FF FF terminator included (even)
    label: str


# Word addresses 0x40 apart (128 bytes) so each field can grow in the DGUS project.
TEXT_VARS: tuple[TextVar, ...] = (
    TextVar("window", 0x1000, 48, "窗口号和名称"),
    TextVar("status", 0x1040, 20, "状态"),
    TextVar("officer", 0x1080, 40, "当班民警和警号"),
    TextVar("ticket", 0x10C0, 20, "正在办理的号码"),
    TextVar("reason", 0x1100, 48, "离开事由"),
    TextVar("return_at", 0x1140, 24, "预计返回时间"),
    TextVar("phone", 0x1180, 32, "联系电话"),
    TextVar("backup", 0x11C0, 64, "B岗民警或窗口"),
)
VARS_BY_NAME = {v.name: v for v in TEXT_VARS}
VARS_BY_VP = {v.vp: v for v in TEXT_VARS}


class Page:
    CLOSED = 0
    OPEN = 1
    SERVING = 2
    AWAY = 3


PAGE_NAMES = {Page.CLOSED: "closed", Page.OPEN: "open", Page.SERVING: "serving",
              Page.AWAY: "away"}

# ----------------------------------------------------------------- CRC and frames


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS: poly 0xA001 (reflected 0x8005), init 0xFFFF."""
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def _frame(body: bytes, crc: bool) -> bytes:
    if crc:
        c = crc16_modbus(body)
        body += bytes((c & 0xFF, c >> 8))
    if len(body) > MAX_LEN:
        raise ValueError(f"DGUS frame body of {len(body)} bytes is longer than {MAX_LEN}")
    return HEADER + bytes((len(body),)) + body


def write_frame(vp: int, data: bytes, crc: bool = False) -> bytes:
    """An 0x82 write of ``data`` to ``vp``."""
    return _frame(bytes((CMD_WRITE, vp >> 8, vp & 0xFF)) + data, crc)


def read_frame(vp: int, words: int, crc: bool = False) -> bytes:
    return _frame(bytes((CMD_READ, vp >> 8, vp & 0xFF, words)), crc)


def ok_frame(crc: bool = False) -> bytes:
    return _frame(bytes((CMD_WRITE,)) + OK, crc)


def page_frame(page: int, crc: bool = False) -> bytes:
    return write_frame(VP_PAGE, page_data(page), crc)


def page_data(page: int) -> bytes:
    return bytes((0x5A, 0x01, page >> 8, page & 0xFF))


def encode_text(text: str, size: int) -> bytes:
    """GBK bytes, cut on a character boundary to fit, then FF FF and FF padding to ``size``.

    Characters GBK cannot carry become "?" (the sign's font has only GBK anyway)."""
    out = bytearray()
    for ch in text:
        b = ch.encode("gbk", "replace")
        if len(out) + len(b) > size - 2:
            break
        out += b
    return bytes(out) + b"\xff" * (size - len(out))


def decode_text(data: bytes) -> str:
    """The text of a field: GBK up to the first FF or 00 (no GBK byte is either; a DGUS
    variable never written holds zeros)."""
    end = len(data)
    for stop in (b"\xff", b"\x00"):
        at = data.find(stop)
        if 0 <= at < end:
            end = at
    return data[:end].decode("gbk", "replace")


@dataclass(frozen=True)
class Frame:
    """A frame the host sends: a write (``data``) or a read (``words``)."""

    cmd: int
    vp: int
    data: bytes = b""
    words: int = 0


@dataclass(frozen=True)
class Ack:
    """The display's "OK" to a write."""


@dataclass(frozen=True)
class ReadReply:
    vp: int
    words: int
    data: bytes


Reply = Ack | ReadReply


def _body(data: bytes, crc: bool) -> bytes:
    """Check header, length and CRC of one whole frame; return CMD..DATA."""
    if not isinstance(data, bytes | bytearray):
        raise ParseError("a DGUS frame must be bytes")
    if len(data) < 4:
        raise ParseError(f"DGUS frame too short ({len(data)} bytes)")
    if data[:2] != HEADER:
        raise ParseError(f"DGUS frame must start with 5A A5, got {data[:2].hex(' ').upper()}")
    length = data[2]
    if length != len(data) - 3:
        raise ParseError(f"DGUS length byte says {length}, frame has {len(data) - 3}")
    body = bytes(data[3:])
    if crc:
        if len(body) < 3:
            raise ParseError("DGUS frame too short for a command and a CRC")
        got = body[-2] | body[-1] << 8
        body = body[:-2]
        want = crc16_modbus(body)
        if got != want:
            raise ParseError(f"DGUS CRC mismatch: frame has {got:04X}, computed {want:04X}")
    return body


def decode_frame(data: bytes, crc: bool) -> Frame:
    """Decode one whole host frame (what the sign receives). Raises ParseError."""
    body = _body(data, crc)
    cmd = body[0]
    if cmd not in (CMD_WRITE, CMD_READ):
        raise ParseError(f"DGUS command {cmd:02X} is neither 82 (write) nor 83 (read)")
    if len(body) < 3:
        raise ParseError("DGUS frame has no VP address")
    vp = body[1] << 8 | body[2]
    if cmd == CMD_WRITE:
        if len(body) < 4:
            raise ParseError(f"DGUS write to VP {vp:04X} has no data")
        return Frame(cmd, vp, data=body[3:])
    # The reply must fit one frame too: at most 0x7C words (DGUS II manual).
    if len(body) != 4 or not 1 <= body[3] <= MAX_READ_WORDS:
        raise ParseError(f"DGUS read of VP {vp:04X} needs one length byte of 1-"
                         f"{MAX_READ_WORDS} words")
    return Frame(cmd, vp, words=body[3])


def parse_reply(data: bytes, crc: bool) -> Reply:
    """Decode one whole frame the display sends back. Raises ParseError."""
    body = _body(data, crc)
    cmd = body[0]
    if cmd == CMD_WRITE:
        if body[1:] != OK:
            raise ParseError(f"DGUS 82 reply is not OK: {body[1:].hex(' ').upper()}")
        return Ack()
    if cmd == CMD_READ:
        if len(body) < 4:
            raise ParseError("DGUS 83 reply too short")
        vp, words, payload = body[1] << 8 | body[2], body[3], body[4:]
        if len(payload) != 2 * words:
            raise ParseError(f"DGUS 83 reply says {words} words, carries {len(payload)} bytes")
        return ReadReply(vp, words, payload)
    raise ParseError(f"DGUS reply command {cmd:02X} is neither 82 nor 83")


class FrameReader:
    """Splits a byte stream into whole frames (by header and length byte), skipping
    garbage between them. Memory is bounded: at most one frame is buffered."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        frames: list[bytes] = []
        while True:
            start = self._buf.find(HEADER)
            if start < 0:
                # Keep a trailing 5A: it may be the first half of a header.
                keep = 1 if self._buf.endswith(b"\x5a") else 0
                self.skipped += len(self._buf) - keep
                del self._buf[:len(self._buf) - keep]
                return frames
            if start:
                self.skipped += start
                del self._buf[:start]
            if len(self._buf) < 3:
                return frames
            total = 3 + self._buf[2]
            if len(self._buf) < total:
                return frames
            frames.append(bytes(self._buf[:total]))
            del self._buf[:total]


# ----------------------------------------------------------------- what the sign shows


@dataclass(frozen=True)
class SignView:
    page: int
    texts: tuple[tuple[str, str], ...]  # (variable name, text) for every TEXT_VARS entry

    def text(self, name: str) -> str:
        return dict(self.texts)[name]

    def writes(self) -> list[tuple[int, bytes]]:
        """(VP, data) for every variable, then the page switch last, so a page appears
        with its text already in place."""
        out = [(VARS_BY_NAME[n].vp, encode_text(t, VARS_BY_NAME[n].size))
               for n, t in self.texts]
        out.append((VP_PAGE, page_data(self.page)))
        return out


def _hhmm(iso: str, tz: ZoneInfo, now: float) -> str:
    try:
        at = datetime.fromisoformat(iso).astimezone(tz)
    except ValueError:
        return iso[:16]
    today = datetime.fromtimestamp(now, tz).date()
    return at.strftime("%H:%M") if at.date() == today else at.strftime("%m月%d日 %H:%M")


def _backup_text(backup: str, config: Config) -> str:
    """"000002; window 2" (the core's default) -> "王芳 警号000002，2号窗口"."""
    parts = []
    for raw in backup.split(";"):
        part = raw.strip()
        if not part:
            continue
        m = re.fullmatch(r"window\s*(\d+)", part, re.IGNORECASE)
        officer = config.officer(part)
        if m:
            parts.append(f"{m.group(1)}号窗口")
        elif officer is not None:
            parts.append(f"{officer.name} 警号{officer.badge}")
        else:
            parts.append(part)
    return "，".join(parts)


def view_for(s: Snapshot, config: Config, ticket: str = "",
             now: float | None = None) -> SignView:
    """What the sign shows for a counter state (pure; tested directly)."""
    w = config.window
    texts = dict.fromkeys(VARS_BY_NAME, "")
    texts["window"] = f"{w.number}号窗口 {w.name}"
    officer = config.officer(s.officer) if s.officer else None
    if s.officer:
        texts["officer"] = (f"{officer.name} 警号{s.officer}" if officer
                            else f"警号{s.officer}")
    if not s.officer:
        page, texts["status"] = Page.CLOSED, "暂停服务"
    elif s.mode is Mode.AWAY and s.away is not None:
        tz = ZoneInfo(config.device.timezone)
        page, texts["status"] = Page.AWAY, "暂时离开"
        texts["reason"] = s.away.reason
        texts["return_at"] = _hhmm(s.away.return_at, tz, time.time() if now is None else now)
        texts["phone"] = s.away.phone
        texts["backup"] = _backup_text(s.away.backup, config)
    elif s.mode is Mode.SERVING:
        page, texts["status"] = Page.SERVING, "正在办理"
        texts["ticket"] = ticket
    elif s.mode is Mode.RATING:
        page, texts["status"] = Page.SERVING, "请评价"
        texts["ticket"] = ticket
    else:
        page, texts["status"] = Page.OPEN, "欢迎办理"
        texts["ticket"] = ticket
    return SignView(page, tuple(texts.items()))


# ----------------------------------------------------------------- the simulator


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


# ----------------------------------------------------------------- the driver


class SignNoReply(DriverError):
    """The display did not answer OK to a write after every retry."""


class SignDriver(BaseDriver):
    """Keeps the DWIN sign in step with the counter, from its own writer thread."""

    name = "sign"

    def __init__(self, config: Config, opener: Opener | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.cfg: SignSection = config.sign
        self.sim: SimSign | None = None
        if opener is None:
            if self.cfg.url == "sim://":
                self.sim = SimSign(self.cfg.crc)
                sim = self.sim
                opener = lambda: sim  # noqa: E731
            else:
                opener = url_opener(self.cfg.url, self.cfg.baudrate)
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
                self.core.fault("sign", "no_reply", str(exc))
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
