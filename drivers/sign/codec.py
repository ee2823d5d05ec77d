"""The DWIN DGUS II ("T5L") serial protocol: the VP address map, frames and text fields.

Holds the constants and the sign's variables (:class:`TextVar`, ``TEXT_VARS``,
:class:`Page`), CRC-16/MODBUS, the frame builders (:func:`write_frame`, :func:`read_frame`,
:func:`ok_frame`, :func:`page_frame`), GBK field text (:func:`encode_text`,
:func:`decode_text`), the decoders of whole frames in both directions
(:func:`decode_frame` for what the host sends, :func:`parse_reply` for what the display
answers, giving :class:`Frame`, :class:`Ack`, :class:`ReadReply`) and the stream framer
:class:`FrameReader`. Pure bytes in, bytes out: no I/O, no threads (docs/sign.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from device.errors import ParseError

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
