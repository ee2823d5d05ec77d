"""Parse an ESC/POS byte stream (the subset this driver sends) back into items and text.

Used by the simulated printer (`kiosk sim printer` shows the text of the last jobs), by
the test printers on the far side of a pty or socket (to answer DLE EOT where it sits in
the stream) and by the tests (to prove the Chinese survives the round trip).

Text inside FS & ... FS . is GB18030; outside it only printable ASCII is expected. A
GS v 0 image is returned as an item with its bits (ink = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from device.errors import ParseError


@dataclass(frozen=True)
class Item:
    kind: str   # init align bold size cn_on cn_off text lf raster qr cut feed status clear
    value: Any = None
    at: int = -1  # start offset of real-time commands (status, clear) in the buffer


class Incomplete(Exception):
    """The buffer ends inside a command (only raised internally)."""


def _need(buf: bytes, end: int) -> None:
    if end > len(buf):
        raise Incomplete


def parse(buf: bytes, *, partial: bool = False) -> tuple[list[Item], int]:
    """Items of ``buf`` and how many bytes they used.

    ``partial``: stop quietly before a command cut off at the end (streaming); otherwise
    a cut-off command raises :class:`ParseError`. Unknown commands raise ParseError.
    """
    items: list[Item] = []
    chinese = False
    text = bytearray()
    qr_parts: dict[str, Any] = {}
    i = 0
    done = 0

    def flush_text() -> None:
        if text:
            codec = "gb18030" if chinese else "ascii"
            try:
                items.append(Item("text", bytes(text).decode(codec)))
            except UnicodeDecodeError as exc:
                raise ParseError(f"text bytes {bytes(text)[:16].hex()} are not {codec}: "
                                 f"{exc.reason}") from None
            text.clear()

    try:
        while i < len(buf):
            b = buf[i]
            if b == 0x0A:
                flush_text()
                items.append(Item("lf"))
                i += 1
            elif b == 0x1B:  # ESC
                _need(buf, i + 2)
                c = buf[i + 1]
                flush_text()
                if c == ord("@"):
                    items.append(Item("init"))
                    chinese = False
                    i += 2
                elif c in (ord("a"), ord("E"), ord("d")):
                    _need(buf, i + 3)
                    n = buf[i + 2]
                    kind = {ord("a"): "align", ord("E"): "bold", ord("d"): "feed"}[c]
                    items.append(Item(kind, bool(n & 1) if kind == "bold" else n))
                    i += 3
                else:
                    raise ParseError(f"unknown command ESC {c:#04x} at byte {i}")
            elif b == 0x1D:  # GS
                _need(buf, i + 2)
                c = buf[i + 1]
                flush_text()
                if c == ord("!"):
                    _need(buf, i + 3)
                    n = buf[i + 2]
                    items.append(Item("size", ((n >> 4) + 1, (n & 0x0F) + 1)))
                    i += 3
                elif c == ord("v"):
                    _need(buf, i + 8)
                    if buf[i + 2] != ord("0"):
                        raise ParseError(f"GS v {buf[i + 2]:#04x} is not GS v 0 at byte {i}")
                    wb = int.from_bytes(buf[i + 4:i + 6], "little")
                    h = int.from_bytes(buf[i + 6:i + 8], "little")
                    end = i + 8 + wb * h
                    _need(buf, end)
                    items.append(Item("raster", (wb, h, bytes(buf[i + 8:end]))))
                    i = end
                elif c == ord("("):
                    _need(buf, i + 5)
                    if buf[i + 2] != ord("k"):
                        raise ParseError(f"GS ( {buf[i + 2]:#04x} unsupported at byte {i}")
                    ln = int.from_bytes(buf[i + 3:i + 5], "little")
                    end = i + 5 + ln
                    _need(buf, end)
                    if ln < 2 or buf[i + 5] != ord("1"):
                        raise ParseError(f"GS ( k at byte {i} is not a QR function")
                    fn, payload = buf[i + 6], bytes(buf[i + 7:end])
                    if fn == 65:
                        qr_parts["model"] = payload[:1].decode("latin-1")
                    elif fn == 67:
                        qr_parts["module"] = payload[0] if payload else 0
                    elif fn == 69:
                        qr_parts["ec"] = "LMQH"[payload[0] - 48] if payload and \
                            48 <= payload[0] <= 51 else "?"
                    elif fn == 80:
                        try:
                            qr_parts["data"] = payload[1:].decode("utf-8")
                        except UnicodeDecodeError:
                            raise ParseError("QR data is not UTF-8") from None
                    elif fn == 81:
                        items.append(Item("qr", dict(qr_parts)))
                    else:
                        raise ParseError(f"QR function {fn} unsupported at byte {i}")
                    i = end
                elif c == ord("V"):
                    _need(buf, i + 3)
                    m = buf[i + 2]
                    if m in (65, 66):
                        _need(buf, i + 4)
                        items.append(Item("cut", (m, buf[i + 3])))
                        i += 4
                    else:
                        items.append(Item("cut", (m, 0)))
                        i += 3
                else:
                    raise ParseError(f"unknown command GS {c:#04x} at byte {i}")
            elif b == 0x1C:  # FS
                _need(buf, i + 2)
                c = buf[i + 1]
                flush_text()
                if c == ord("&"):
                    chinese = True
                    items.append(Item("cn_on"))
                elif c == ord("."):
                    chinese = False
                    items.append(Item("cn_off"))
                else:
                    raise ParseError(f"unknown command FS {c:#04x} at byte {i}")
                i += 2
            elif b == 0x10:  # DLE
                _need(buf, i + 3)
                flush_text()
                if buf[i + 1] == 0x04:
                    items.append(Item("status", buf[i + 2], i))
                    i += 3
                elif buf[i + 1] == 0x14:  # DLE DC4 fn d1..d7 (fn 8: clear buffers)
                    _need(buf, i + 10)
                    items.append(Item("clear", None, i))
                    i += 10
                else:
                    raise ParseError(f"unknown command DLE {buf[i + 1]:#04x} at byte {i}")
            elif b < 0x20 or b == 0x7F:
                raise ParseError(f"unexpected control byte {b:#04x} at byte {i}")
            else:
                if chinese and b >= 0x80:
                    _need(buf, i + 2)
                    second = buf[i + 1]
                    if 0x30 <= second <= 0x39:  # GB18030 four-byte sequence
                        _need(buf, i + 4)
                        text += buf[i:i + 4]
                        i += 4
                    else:
                        text += buf[i:i + 2]
                        i += 2
                else:
                    text.append(b)
                    i += 1
            done = i
        flush_text()
    except Incomplete:
        if not partial:
            raise ParseError(f"stream ends inside a command at byte {i}") from None
        flush_text()
    return items, done


def raster_image(item: Item) -> Any:
    """A GS v 0 item as a Pillow mode "1" image (ink = 1)."""
    from PIL import Image

    wb, h, data = item.value
    return Image.frombytes("1", (wb * 8, h), data)


def to_text(items: list[Item]) -> str:
    """A readable rendering: text lines, [图像 WxH] for images, [二维码 data] for QR."""
    out: list[str] = []
    line = ""
    for it in items:
        if it.kind == "text":
            line += it.value
        elif it.kind == "lf":
            out.append(line)
            line = ""
        elif it.kind == "raster":
            if line:
                out.append(line)
                line = ""
            wb, h, _ = it.value
            out.append(f"[图像 {wb * 8}x{h}]")
        elif it.kind == "qr":
            out.append(f"[二维码 {it.value.get('data', '')}]")
        elif it.kind == "cut":
            if line:
                out.append(line)
                line = ""
            out.append("✂" + "-" * 20)
    if line:
        out.append(line)
    return "\n".join(out)


def decode_text(data: bytes) -> str:
    """Text of a byte stream; never raises (the sim shows what it can)."""
    try:
        items, _ = parse(data)
    except ParseError as exc:
        return f"[undecodable: {exc}]"
    return to_text(items)
