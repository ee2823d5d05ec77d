"""The station's shared queue (kiosk-station, docs/station.md) aggregated in SQL: per
station, per window number or per service, the tickets issued, called and done, the
no-shows (put back in the queue or dropped), the transfers and recalls, the waits
(average, longest, 90th percentile) and the service times.

**Which rows.** In station mode the windows and the entrance record ticket.* events of
their own beside the station's: the entrance's or window's ``ticket.issued`` for every
number it printed (device/queue.py), a window's ``ticket.called``, ``ticket.recalled``,
``ticket.no_show`` and ``ticket.transferred`` for every control the station answered
(drivers/station/book.py builds them from the station's reply, device/counter_queue.py
records them). Counting both would count every ticket twice, so this module reads the
station's own events only (device ``station`` of the site), with one exception: a
number a device printed from **its own block** while the station did not answer. Its
``ticket.issued`` (``fallback``: true, kind ``block`` in hq.facts) is the device's only,
and ``reconcile`` records no event when the station takes it over later
(station/reconcile.py), so it is counted from the device's row, as a ticket issued and
as one of the block's. What happened to a block ticket at the window that called it
while the station was away is in that window's own events (the evaluation report), not
here; one the station took over waiting and called later is in its calls and waits.

**Waits** are ticket.called's ``waited_s`` (issue to this call; a ticket called again
after a no-show or a transfer counts again, from its first issue), the longest and the
90th percentile by nearest rank (the ceil(0.9 n)-th smallest), computed by the database
with a window function on SQLite and PostgreSQL alike. **Service times** are
ticket.done's ``service_s`` (call to done). No wait target is kept for a ticket: the
station's only threshold, ``crowd.longest_wait_min``, raises ``station.crowded`` for
the whole hall, so no share over a target is given.

Like hq.reports.queries: only events whose chain verified count, the load simulator's
only when asked, no event row is held in Python (the groups are).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hq.db import HqDb
from hq.facts import BLOCK, STATION_DEVICE
from hq.reports.documents import Scope

TYPES = ("ticket.issued", "ticket.called", "ticket.recalled", "ticket.no_show",
         "ticket.transferred", "ticket.done")
# The station's own events, and the block tickets only the devices tell of.
ROWS = (f"(e.device = '{STATION_DEVICE}' OR (e.type = 'ticket.issued' AND "
        f"e.kind = '{BLOCK}'))")


class Per(StrEnum):
    """The station report's 统计维度: a window here is the station's window number."""

    STATION = "station"
    WINDOW = "window"
    SERVICE = "service"

    @property
    def label(self) -> str:
        return {Per.STATION: "派出所", Per.WINDOW: "窗口", Per.SERVICE: "事项"}[self]

    @property
    def columns(self) -> list[str]:
        return {Per.STATION: ["e.site"], Per.WINDOW: ["e.site", "e.window_no"],
                Per.SERVICE: ["e.service"]}[self]


Key = tuple[str | int, ...]


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60.0, 1)


@dataclass
class StationRow:
    key: Key
    issued: int = 0  # the station's tickets and the devices' block tickets
    block: int = 0  # of them, numbered by a device from its own block
    called: int = 0
    done: int = 0
    no_shows: int = 0
    requeued: int = 0  # of the no-shows, put back in the queue
    dropped: int = 0  # of the no-shows, gone for the day
    to_service: int = 0
    to_window: int = 0
    recalls: int = 0
    waits: int = 0  # calls that carry a wait
    wait_s: float = 0.0
    longest_wait_s: float | None = None
    p90_wait_s: float | None = None
    timed: int = 0  # dones that carry a service time
    service_s: float = 0.0
    longest_service_s: float | None = None

    @property
    def avg_wait_min(self) -> float | None:
        return _minutes(self.wait_s / self.waits) if self.waits else None

    @property
    def longest_wait_min(self) -> float | None:
        return _minutes(self.longest_wait_s)

    @property
    def p90_wait_min(self) -> float | None:
        return _minutes(self.p90_wait_s)

    @property
    def avg_service_min(self) -> float | None:
        return _minutes(self.service_s / self.timed) if self.timed else None

    @property
    def longest_service_min(self) -> float | None:
        return _minutes(self.longest_service_s)


def _is(etype: str, kind: str | None = None) -> str:
    more = f" AND e.kind = '{kind}'" if kind else ""
    return f"SUM(CASE WHEN e.type = '{etype}'{more} THEN 1 ELSE 0 END)"


NAMES = ("issued", "block", "called", "done", "no_shows", "requeued", "dropped",
         "to_service", "to_window", "recalls", "waits")
FIGURES = ["COUNT(*)", _is("ticket.issued"), _is("ticket.issued", BLOCK), _is("ticket.called"),
           _is("ticket.done"), _is("ticket.no_show"), _is("ticket.no_show", "requeued"),
           _is("ticket.no_show", "dropped"), _is("ticket.transferred", "service"),
           _is("ticket.transferred", "window"), _is("ticket.recalled"),
           "SUM(CASE WHEN e.type = 'ticket.called' AND e.seconds IS NOT NULL THEN 1 ELSE 0 "
           "END)",
           "SUM(CASE WHEN e.type = 'ticket.called' THEN COALESCE(e.seconds, 0) ELSE 0 END)",
           "MAX(CASE WHEN e.type = 'ticket.called' THEN e.seconds END)",
           # service_s is only ever set on ticket.done (hq.facts.station_facts).
           "COUNT(e.service_s)", "SUM(e.service_s)", "MAX(e.service_s)"]


def _key(values: tuple[object, ...]) -> Key:
    return tuple(v if isinstance(v, int) else str(v) for v in values)


def _float(v: Any) -> float | None:
    return None if v is None else float(v)


def figures(db: HqDb, scope: Scope, per: Per | None = Per.STATION) -> list[StationRow]:
    """One row per group, sorted by key; ``per`` None: one row for the whole scope (key
    ``()``, the totals), or none when nothing counts. A group without a key (by window
    the tickets issued, which name no window; by service the recalls and transfers,
    which name no service) is in no row, but in the totals."""
    keys = per.columns if per else []
    where, params = scope.where(TYPES, "e", station=True)
    cols = [f"COALESCE({k}, 0)" if k.endswith("window_no") else f"COALESCE({k}, '')"
            for k in keys]
    group = f" GROUP BY {', '.join(cols)}" if cols else ""
    sql = (f"SELECT {', '.join([*cols, *FIGURES])} FROM hq_events e WHERE {where} AND "
           f"{ROWS}{group}")
    n = len(keys)
    rows: dict[Key, StationRow] = {}
    for r in db.all(sql, params):
        key, c = _key(tuple(r[:n])), r[n:]
        if not c[0] or (key and key[-1] in ("", 0)):  # nothing counted; no key
            continue
        counts = dict(zip(NAMES, (int(v or 0) for v in c[1:12]), strict=True))
        rows[key] = StationRow(key, **counts, wait_s=float(c[12] or 0),
                               longest_wait_s=_float(c[13]), timed=int(c[14] or 0),
                               service_s=float(c[15] or 0), longest_service_s=_float(c[16]))
    for key, p90 in _p90(db, cols, params, where):
        if key in rows:
            rows[key].p90_wait_s = p90
    return sorted(rows.values(), key=lambda row: row.key)


def _p90(db: HqDb, cols: list[str], params: list[object],
         where: str) -> list[tuple[Key, float]]:
    """The 90th percentile wait of each group, by nearest rank: the database numbers each
    group's calls by their wait and keeps the ceil(0.9 n)-th, (9n + 9) / 10 in integer
    division; only one value a group comes back."""
    part = f"PARTITION BY {', '.join(cols)} " if cols else ""
    named = ", ".join(f"{c} AS k{i}" for i, c in enumerate(cols))
    sql = (f"SELECT {''.join(f'k{i}, ' for i in range(len(cols)))}s FROM (SELECT "
           f"{named + ', ' if named else ''}e.seconds AS s, ROW_NUMBER() OVER ({part}"
           f"ORDER BY e.seconds, e.id) AS rn, COUNT(*) OVER ({part.strip()}) AS n "
           f"FROM hq_events e WHERE {where} AND e.device = '{STATION_DEVICE}' AND "
           "e.type = 'ticket.called' AND e.seconds IS NOT NULL) x WHERE rn = (9 * n + 9) / 10")
    return [(_key(tuple(r[:-1])), float(r[-1])) for r in db.all(sql, params)]


@dataclass(frozen=True)
class ServiceTime:
    """One service at one window of a station: the cases done and how long they took."""

    site: str
    window: int
    service: str
    done: int
    avg_min: float | None
    longest_min: float | None


def service_times(db: HqDb, scope: Scope) -> list[ServiceTime]:
    """ticket.done per station, window number and service (what the station's wait
    estimates learn from, docs/station.md), in that order."""
    where, params = scope.where(("ticket.done",), "e", station=True)
    sql = ("SELECT e.site, e.window_no, COALESCE(e.service, ''), COUNT(*), "
           "COUNT(e.service_s), COALESCE(SUM(e.service_s), 0), MAX(e.service_s) "
           f"FROM hq_events e WHERE {where} AND e.device = '{STATION_DEVICE}' AND "
           "e.window_no IS NOT NULL GROUP BY e.site, e.window_no, COALESCE(e.service, '')")
    out = [ServiceTime(str(site), int(window), str(service), int(done),
                       _minutes(float(total) / timed) if timed else None,
                       _minutes(None if top is None else float(top)))
           for site, window, service, done, timed, total, top in db.all(sql, params)]
    return sorted(out, key=lambda t: (t.site, t.window, t.service))
