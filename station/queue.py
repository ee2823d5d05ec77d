"""The station queue's rules, pure: who may call a ticket, in which order, how long it
waits. No I/O: :mod:`station.service` reads the rows, asks these functions and writes.

* Order: priority (2 green channel, 1 appointment, 0 normal) first, then the earliest
  issued (a requeued no-show stands at its ``place`` instead of its issue time).
* Who may call a waiting ticket (:func:`eligible`): the windows serving its service (or
  the one window it was transferred to). **B-post routing:** when every such window is
  away, the tickets wait for those windows' backups that are present; when one is back
  they wait for it again. A ticket another present window serves stays with that window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from station.config import StationConfig

PRIORITY_NORMAL, PRIORITY_APPOINTMENT, PRIORITY_GREEN = 0, 1, 2
STATUSES = ("waiting", "called", "done", "no_show", "transferred")

Row = Mapping[str, Any]


class Code(StrEnum):
    """Refusal codes of a response (``"code"``); the ``error`` text names the field."""

    BAD_REQUEST = "bad_request"
    UNKNOWN_OP = "unknown_op"
    SERVICE_UNKNOWN = "service_unknown"
    WINDOW_UNKNOWN = "window_unknown"
    WINDOW_AWAY = "window_away"
    NOT_AWAY = "not_away"
    BUSY = "busy"  # the window still serves a ticket: done or no_show first
    NO_CALLED_TICKET = "no_called_ticket"
    TICKET_UNKNOWN = "ticket_unknown"
    TICKET_NOT_WAITING = "ticket_not_waiting"
    NOT_FOR_WINDOW = "not_for_window"
    SAME_SERVICE = "same_service"
    OWN_WINDOW = "own_window"
    BAD_BACKUP = "bad_backup"
    STORE = "store"  # the disk refused the commit: nothing changed, send again


@dataclass(frozen=True)
class Away:
    """A window's away state as the store keeps it."""

    away: bool
    backup: int
    since: float
    alerted: bool = False  # HQ heard this absence was too long


def key(row: Row) -> tuple[int, float, int]:
    """Where a waiting ticket stands: lower is called first."""
    place = row["place"] if row["place"] is not None else row["issued_ts"]
    return (-int(row["priority"]), float(place), int(row["id"]))


def serving_windows(cfg: StationConfig, service: str, to_window: int = 0) -> set[int]:
    """The windows a ticket belongs to when every window is present."""
    if to_window:
        return {to_window}
    return {w.number for w in cfg.windows if service in w.services}


def backup_of(cfg: StationConfig, window: int, away: Mapping[int, Away]) -> int:
    state = away.get(window)
    if state is not None and state.away and state.backup:
        return state.backup
    entry = cfg.window(window)
    return entry.backup if entry else 0


def is_away(away: Mapping[int, Away], window: int) -> bool:
    state = away.get(window)
    return bool(state and state.away)


def eligible(cfg: StationConfig, service: str, to_window: int,
             away: Mapping[int, Away]) -> set[int]:
    """The windows that may call this ticket now (B-post routing, module docstring)."""
    base = serving_windows(cfg, service, to_window)
    present = {w for w in base if not is_away(away, w)}
    if present:
        return present
    backups = {backup_of(cfg, w, away) for w in base}
    routed = {b for b in backups if b and not is_away(away, b)}
    return routed or base  # nobody present: they wait for their own windows to return


def eligible_row(cfg: StationConfig, row: Row, away: Mapping[int, Away]) -> set[int]:
    return eligible(cfg, str(row["service"]), int(row["to_window"]), away)


def ordered(rows: Iterable[Row]) -> list[Row]:
    return sorted(rows, key=key)


def next_for(cfg: StationConfig, window: int, waiting: Iterable[Row],
             away: Mapping[int, Away]) -> Row | None:
    """The ticket ``window``'s call_next takes: the first in order it may serve."""
    return next((r for r in ordered(waiting) if window in eligible_row(cfg, r, away)), None)


def ahead_of(cfg: StationConfig, windows: set[int], priority: int, place: float,
             waiting: Iterable[Row], away: Mapping[int, Away], own_id: int = -1) -> int:
    """Waiting tickets called before a ticket at (``priority``, ``place``) whose windows
    are ``windows``: those in front of it that one of the same windows may call."""
    mine = (-priority, place, own_id if own_id >= 0 else 2**62)
    return sum(1 for r in waiting if int(r["id"]) != own_id and key(r) < mine
               and eligible_row(cfg, r, away) & windows)


def service_seconds(cfg: StationConfig, service: str, window: int,
                    times: Mapping[tuple[str, int], tuple[float, int]]) -> float:
    """The measured moving average, or ``default_service_min`` before any measurement."""
    measured = times.get((service, window))
    return measured[0] if measured else cfg.default_service_min * 60.0


def est_wait_min(cfg: StationConfig, service: str, windows: set[int], ahead: int,
                 times: Mapping[tuple[str, int], tuple[float, int]]) -> int:
    """Minutes until a ticket with ``ahead`` people before it is called: each of the
    ``windows`` serving it now takes its own measured time per case, together they
    serve ``sum(1 / t)`` cases a second."""
    if ahead <= 0 or not windows:
        return 0
    rate = sum(1.0 / max(1.0, service_seconds(cfg, service, w, times)) for w in windows)
    return math.ceil(ahead / rate / 60.0)


def moving_average(old: tuple[float, int] | None, sample_s: float,
                   weight: float) -> tuple[float, int]:
    """The next (average seconds, count); the first sample is the average."""
    if old is None:
        return sample_s, 1
    avg, n = old
    return avg * (1.0 - weight) + sample_s * weight, n + 1


def requeue_place(row: Row, waiting: Sequence[Row], after: int) -> tuple[int, float | None]:
    """(priority, place) that put a no-show ``row`` behind ``after`` of the ``waiting``
    tickets (in order) or at their end; 0: back where it was. It takes the priority of
    the ticket it goes behind, as the counter's queue does (device/ticket_ops.py)."""
    if after == 0 or not waiting:
        return int(row["priority"]), row["place"]
    behind = waiting[min(after, len(waiting)) - 1]
    nxt = waiting[after] if len(waiting) > after else None
    at = -key(behind)[0], key(behind)[1]
    if nxt is not None and key(nxt)[0] == key(behind)[0]:
        return at[0], (at[1] + key(nxt)[1]) / 2
    # The last of its priority: a hair later still stands before any later issue.
    return at[0], at[1] + 1e-3


def routed(cfg: StationConfig, waiting: Iterable[Row], before: Mapping[int, Away],
           after: Mapping[int, Away], window: int) -> list[str]:
    """Numbers that ``window`` could call before and not after (going away) or the
    other way round (coming back, with before/after swapped by the caller)."""
    out = []
    for r in ordered(waiting):
        if window in eligible_row(cfg, r, before) and window not in eligible_row(cfg, r, after):
            out.append(str(r["number"]))
    return out


def away_notice(window: int, backup: int) -> str:
    if backup:
        return f"{window}号窗口暂离，请到{backup}号窗口办理"
    return f"{window}号窗口暂离，请稍候"
