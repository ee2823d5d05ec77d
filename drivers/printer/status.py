"""DLE EOT status replies: one byte per query, parsed into a :class:`PrinterStatus`.

Every reply byte of DLE EOT n (n = 1..4) has fixed bits: bit 0 = 0, bit 1 = 1, bit 4 = 1,
bit 7 = 0 (ESC/POS reference). A byte that breaks them is not a status reply (noise, a
stray ASB byte, a printer that echoes) and raises :class:`ParseError`.

No answer at all is *unknown*, never "paper adequate": python-escpos's ``paper_status()``
returns 2 when nothing could be read, which hides a printer that is off or out of paper.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from device.codes import Fault
from device.errors import ParseError

FIXED_MASK = 0b1001_0011
FIXED_BITS = 0b0001_0010


class Paper(StrEnum):
    OK = "ok"
    NEAR_END = "near_end"
    OUT = "out"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said; ``None`` / ``UNKNOWN`` where it was not asked or did not say."""

    online: bool | None = None
    cover_open: bool | None = None
    paper: Paper = Paper.UNKNOWN
    error: bool | None = None
    # (n, reply byte) of every answer that went into this status, for logs and docs.
    replies: tuple[tuple[int, int], ...] = ()

    @property
    def answered(self) -> bool:
        return bool(self.replies)

    @property
    def fault(self) -> Fault | Literal[""]:
        """The fault that stops printing ("" when nothing known is wrong).

        Paper out wins over offline: a printer out of paper also reports offline, and the
        paper is what the officer has to fix.
        """
        if self.paper is Paper.OUT:
            return Fault.PAPER_OUT
        if self.cover_open:
            return Fault.COVER_OPEN
        if self.error:
            return Fault.ERROR
        if self.online is False:
            return Fault.OFFLINE
        return ""

    def merge(self, other: PrinterStatus) -> PrinterStatus:
        """This status with every field ``other`` knows taken from ``other``."""
        paper = other.paper if other.paper is not Paper.UNKNOWN else self.paper
        if self.paper is Paper.OUT and other.paper is Paper.NEAR_END:
            paper = Paper.OUT  # n=2 "stopped by paper end" beats a later near-end read
        return PrinterStatus(
            online=self.online if other.online is None else other.online,
            cover_open=self.cover_open if other.cover_open is None else other.cover_open,
            paper=paper,
            error=self.error if other.error is None else other.error,
            replies=self.replies + other.replies,
        )

    def as_dict(self) -> dict[str, object]:
        return {"online": self.online, "cover_open": self.cover_open,
                "paper": self.paper.value, "error": self.error,
                "fault": self.fault if self.answered else "unknown",
                "replies": [f"{n}:{b:02x}" for n, b in self.replies]}


UNKNOWN = PrinterStatus()


def _bit(byte: int, n: int) -> bool:
    return bool(byte >> n & 1)


def parse_status(n: int, data: bytes) -> PrinterStatus:
    """Parse the reply to DLE EOT ``n``. Empty ``data`` (no answer) is :data:`UNKNOWN`.

    Raises :class:`ParseError` for an ``n`` outside 1..4, more than one byte, or a byte
    whose fixed bits are wrong.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n not in (1, 2, 3, 4):
        raise ParseError(f"printer status: DLE EOT n must be 1..4, got {n!r}")
    if not isinstance(data, bytes | bytearray):
        raise ParseError(f"printer status: expected bytes, got {type(data).__name__}")
    if len(data) == 0:
        return UNKNOWN
    if len(data) != 1:
        raise ParseError(f"printer status: DLE EOT {n} answers one byte, got {len(data)} "
                         f"({bytes(data[:8]).hex()}); clear the input before asking")
    b = data[0]
    if b & FIXED_MASK != FIXED_BITS:
        raise ParseError(f"printer status: byte {b:02x} is not a DLE EOT {n} reply "
                         "(fixed bits 0,1,4,7 must read 0,1,1,0)")
    replies = ((n, b),)
    if n == 1:  # printer status: bit 3 offline
        return PrinterStatus(online=not _bit(b, 3), replies=replies)
    if n == 2:  # offline cause: bit 2 cover open, bit 5 stopped by paper end, bit 6 error
        return PrinterStatus(cover_open=_bit(b, 2),
                             paper=Paper.OUT if _bit(b, 5) else Paper.UNKNOWN,
                             error=_bit(b, 6), replies=replies)
    if n == 3:  # error cause: bit 3 autocutter, bit 5 unrecoverable, bit 6 auto-recoverable
        return PrinterStatus(error=_bit(b, 3) or _bit(b, 5) or _bit(b, 6), replies=replies)
    # n == 4, roll paper sensor: bits 2-3 near end, bits 5-6 paper end (either bit set
    # counts: clones set only one of each pair).
    if b & 0b0110_0000:
        paper = Paper.OUT
    elif b & 0b0000_1100:
        paper = Paper.NEAR_END
    else:
        paper = Paper.OK
    return PrinterStatus(paper=paper, replies=replies)


def status_byte(n: int, *, offline: bool = False, cover_open: bool = False,
                paper: Paper = Paper.OK, error: bool = False) -> int:
    """The byte a printer in this state answers to DLE EOT ``n`` (for the simulator and
    test printers)."""
    b = FIXED_BITS
    if n == 1 and offline:
        b |= 1 << 3
    elif n == 2:
        b |= (1 << 2 if cover_open else 0) | (1 << 5 if paper is Paper.OUT else 0)
        b |= 1 << 6 if error else 0
    elif n == 3 and error:
        b |= 1 << 6
    elif n == 4:
        b |= 0b0110_0000 if paper is Paper.OUT else (
            0b0000_1100 if paper is Paper.NEAR_END else 0)
    return b
