"""The counter's state: what the screen, LEDs, sign and sound need to show.

Immutable: :class:`device.counter.Counter` makes a new :class:`Snapshot` per change. The
persisted part (:meth:`Snapshot.persistable`) is saved with the events of each
transition; the mirror (personal data) and a document on it never are.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from device.documents import Document

# Never saved: the mirror (personal data) and a document waiting for its 确认.
_MEMORY_ONLY = frozenset({"mirror", "document"})


class Mode(StrEnum):
    IDLE = "idle"
    SERVING = "serving"
    RATING = "rating"
    AWAY = "away"


@dataclass(frozen=True)
class Away:
    reason: str
    return_at: str  # ISO 8601 with offset
    phone: str
    backup: str
    since: str


@dataclass(frozen=True)
class MirrorEntry:
    key: str
    label: str
    value: str
    sensitive: bool
    status: str = "pending"  # pending, confirmed, flagged


@dataclass(frozen=True)
class Snapshot:
    """Everything the screen, LEDs and sign need to show. Immutable; a new one per change."""

    mode: Mode = Mode.IDLE
    officer: str = ""
    case_no: str = ""
    service: str = ""
    case_started: str = ""
    rating_deadline: float = 0.0
    rated_case: str = ""  # the last case that got a rating (for "already rated" checks)
    last_rating: str = ""
    detailed_case: str = ""  # the last case whose unsatisfied rating got its details
    # Cases ended lately: a workstation that re-sends case_start for one of them (a retry
    # after a link glitch) must not open a second round and a second rating.
    recent_cases: tuple[str, ...] = ()
    away: Away | None = None
    away_after_rating: bool = False
    auto_case_counter: int = 0
    # The queue ticket the open case serves ("A003", "" for none) and the local day it was
    # issued: its number means nothing on another day, so midnight clears it.
    ticket: str = ""
    ticket_day: str = ""
    # Memory only: never persisted, never in an event (personal data).
    mirror: tuple[MirrorEntry, ...] = field(default=(), compare=False)
    # Memory only as well: a document waiting for the citizen's 确认 (sent again after a
    # restart); it holds no personal data, but a restart ends what the citizen saw.
    document: Document | None = None

    def persistable(self) -> dict[str, Any]:
        d = dataclasses.asdict(dataclasses.replace(self, mirror=(), document=None))
        for name in _MEMORY_ONLY:
            del d[name]
        return d

    @classmethod
    def restore(cls, d: dict[str, Any]) -> Snapshot:
        known = {f.name for f in dataclasses.fields(cls)} - _MEMORY_ONLY
        kw = {k: v for k, v in d.items() if k in known}
        kw["mode"] = Mode(kw.get("mode", "idle"))
        if kw.get("away"):
            kw["away"] = Away(**kw["away"])
        kw["recent_cases"] = tuple(kw.get("recent_cases", ()))
        return cls(**kw)
