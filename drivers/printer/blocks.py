"""The building blocks of a printed slip: a text line, a rule, a blank line, a QR code and
the cut. :mod:`.slips` says which blocks each job kind prints; :mod:`.layout` turns blocks
into ESC/POS bytes. Neither knows the other's details: this is all they share.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.printer import commands as cmd


@dataclass(frozen=True)
class Text:
    text: str
    align: int = cmd.ALIGN_LEFT
    bold: bool = False
    big: bool = False
    hang: int = 0  # continuation lines are indented by this many columns


@dataclass(frozen=True)
class Rule:
    pass


@dataclass(frozen=True)
class Blank:
    pass


@dataclass(frozen=True)
class Qr:
    data: str


@dataclass(frozen=True)
class Cut:
    pass


Block = Text | Rule | Blank | Qr | Cut
