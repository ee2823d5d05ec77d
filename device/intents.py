"""Intents: what drivers, the workstation link and the screen ask the counter to do.

Drivers and the UI build these and hand them to :meth:`device.core.Core.submit`; they
never change counter state themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from device.documents import Document, DocumentRequest
from device.rating import RatingLevel

# Names of the physical buttons, as `kiosk sim press NAME` and the GPIO map know them.
OFFICER_BUTTONS = ("away", "next")
BUTTONS = tuple(level.value for level in RatingLevel) + OFFICER_BUTTONS


@dataclass(frozen=True)
class Press:
    """A physical button: a rating level name, "away" or "next"."""

    button: str
    source: str = "pad"  # pad (GPIO) or screen (touch button mirroring the pad)


@dataclass(frozen=True)
class SignIn:
    badge: str


@dataclass(frozen=True)
class SignOut:
    pass


@dataclass(frozen=True)
class CaseStart:
    case_no: str
    service: str


@dataclass(frozen=True)
class CaseEnd:
    case_no: str | None = None  # None: whatever case is open


@dataclass(frozen=True)
class MirrorField:
    """A field the officer entered; shown to the citizen, kept in memory only."""

    key: str
    label: str
    value: str
    sensitive: bool = False  # an ID number: masked on screen when configured


@dataclass(frozen=True)
class MirrorAnswer:
    key: str
    ok: bool  # True: confirmed, False: flagged as wrong


@dataclass(frozen=True)
class AwaySet:
    reason: str
    return_at: str  # "HH:MM" local time or an ISO 8601 timestamp
    phone: str = ""
    backup: str = ""  # badge of the backup officer or "window N"


@dataclass(frozen=True)
class AwayClear:
    pass


@dataclass(frozen=True)
class Tick:
    """Time passed: fires the rating timeout. ``now`` is wall-clock epoch seconds."""

    now: float


@dataclass(frozen=True)
class RatingExtras:
    """Optional follow-up to an unsatisfied rating: reason chips and a callback phone."""

    case_no: str
    reasons: tuple[str, ...] = field(default_factory=tuple)
    callback_phone: str = ""


@dataclass(frozen=True)
class ShowDocument:
    """A document made for the open case (device/documents.py): the mirror shows it to
    the citizen until they confirm it."""

    document: Document


@dataclass(frozen=True)
class ConfirmDocument:
    """The citizen's 确认 of the document on the mirror: it is issued and prints."""


@dataclass(frozen=True)
class PromiseChange:
    """A promised date that will be missed moves, with the reason (限时承诺: the citizen is
    told in advance). ``case_no`` is an earlier case of this window."""

    case_no: str
    new_date: str  # ISO date, checked against the calendar before it is submitted
    reason: str



# The queue controls of the workstation link (docs/workstation-link.md). The counter
# decides what they do to the case (device/counter_queue.py); the ticket book checks the
# ticket under the core lock and adds its events and row changes (device/ticket_ops.py).


@dataclass(frozen=True)
class Recall:
    """Call the ticket of the open case again (重呼)."""


@dataclass(frozen=True)
class NoShow:
    """The called citizen did not come (过号): the case closes without a rating."""


@dataclass(frozen=True)
class CallTicket:
    """Call waiting ticket ``number`` ("A007") out of order."""

    number: str


@dataclass(frozen=True)
class Transfer:
    """Move ticket ``number`` to another service of this queue or hand it to a window."""

    number: str
    service: str = ""  # a catalogue code, or "" when ``window`` is given
    window: int = 0  # 1-99, or 0 when ``service`` is given


QUEUE_INTENTS = (Recall, NoShow, CallTicket, Transfer)

Intent = (
    Press | SignIn | SignOut | CaseStart | CaseEnd | MirrorField | MirrorAnswer | AwaySet
    | AwayClear | Tick | RatingExtras | ShowDocument | ConfirmDocument | PromiseChange
    | Recall | NoShow | CallTicket | Transfer
)
# What the link parses but the core does not take as such: made into a ShowDocument
# against the counter's catalogue and calendar first (drivers/link_documents.py).
Request = Intent | DocumentRequest
