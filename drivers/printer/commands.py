"""The ESC/POS commands the printer driver sends, as plain byte builders.

Written out here (rather than taken from python-escpos's higher-level methods) so the
bytes of every job are exactly what docs/printer.md lists and the tests can state them.
"""

from __future__ import annotations

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
EOT = b"\x04"
LF = b"\n"

INIT = ESC + b"@"                 # ESC @: reset modes (not the receive buffer)
CHINESE_ON = FS + b"&"            # FS &: Chinese (two-byte) character mode on
CHINESE_OFF = FS + b"."           # FS .: Chinese character mode off
# DLE DC4 fn=8: clear the receive and print buffers (Epson and most clones). Sent after
# a paper-out so the printer does not finish the torn job's tail before the reprint.
CLEAR_BUFFERS = DLE + b"\x14\x08\x01\x03\x14\x01\x06\x02\x08"

ALIGN_LEFT, ALIGN_CENTER, ALIGN_RIGHT = 0, 1, 2


def align(n: int) -> bytes:
    """ESC a n: justification for the following lines (0 left, 1 centre, 2 right)."""
    return ESC + b"a" + bytes([n])


def bold(on: bool) -> bytes:
    """ESC E n: emphasised (bold) on or off."""
    return ESC + b"E" + bytes([1 if on else 0])


def size(width: int, height: int) -> bytes:
    """GS ! n: character size; width and height are multipliers 1-8."""
    return GS + b"!" + bytes([((width - 1) << 4) | (height - 1)])


def feed(lines: int) -> bytes:
    """ESC d n: print the buffer and feed n lines."""
    return ESC + b"d" + bytes([lines])


def cut(feed_units: int = 3) -> bytes:
    """GS V 66 n: feed to the cutter (plus n units) and cut partially (one tab holds)."""
    return GS + b"V" + bytes([66, feed_units])


def raster(width_bytes: int, height: int, data: bytes) -> bytes:
    """GS v 0 m=0: one raster bit image, ``width_bytes`` * 8 dots wide, MSB = leftmost dot,
    bit 1 = a printed dot."""
    if len(data) != width_bytes * height:
        raise ValueError(f"raster data is {len(data)} bytes, expected {width_bytes * height}")
    return (GS + b"v0\x00" + width_bytes.to_bytes(2, "little")
            + height.to_bytes(2, "little") + data)


def _qr_fn(fn: int, payload: bytes) -> bytes:
    # GS ( k pL pH cn=49 fn payload; pL pH count cn, fn and the payload.
    return GS + b"(k" + (len(payload) + 2).to_bytes(2, "little") + b"1" + bytes([fn]) + payload


def qr(data: str, module: int = 6, ec: str = "M") -> bytes:
    """Native QR (GS ( k, model 2): select model, module size, error correction, store the
    data (UTF-8), print it."""
    level = {"L": 48, "M": 49, "Q": 50, "H": 51}[ec]
    payload = data.encode("utf-8")
    return (_qr_fn(65, b"2\x00")             # fn 165: model 2
            + _qr_fn(67, bytes([module]))    # fn 167: module size in dots
            + _qr_fn(69, bytes([level]))     # fn 169: error correction level
            + _qr_fn(80, b"0" + payload)     # fn 180: store the data
            + _qr_fn(81, b"0"))              # fn 181: print the stored symbol


def status_query(n: int) -> bytes:
    """DLE EOT n: real-time status (1 printer, 2 offline cause, 3 error cause, 4 paper)."""
    if n not in (1, 2, 3, 4):
        raise ValueError("DLE EOT n takes n = 1..4")
    return DLE + EOT + bytes([n])
