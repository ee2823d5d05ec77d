"""The evaluation indicators (GB/T 39735-2020), aggregated in SQL: no event row is held
in Python, whatever the period. Only events whose chain verified count; the load
simulator's only when asked."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from zoneinfo import ZoneInfo

from hq.db import HqDb
from hq.facts import STATION_DEVICE

GOOD = ("very_satisfied", "satisfied")
BAD = ("unsatisfied", "very_unsatisfied")
COUNTED = ("case.ended", "rating.given", "rating.skipped", "away.ended", "ticket.issued",
           "ticket.called", "comment.submitted")
CITIZENS_CALL = "type = 'ticket.called' AND COALESCE(kind, '') <> 'intake'"


class By(StrEnum):
    STATION = "station"
    WINDOW = "window"
    OFFICER = "officer"
    SERVICE = "service"

    @property
    def label(self) -> str:
        return {By.STATION: "派出所", By.WINDOW: "窗口", By.OFFICER: "民警",
                By.SERVICE: "事项"}[self]


@dataclass
class Row:
    key: tuple[str, ...]
    cases: int = 0
    rated: int = 0
    good: int = 0
    bad: int = 0
    skipped: int = 0
    mirror_flags: int = 0
    aways: int = 0
    away_s: float = 0.0
    tickets: int = 0
    called: int = 0
    wait_s: float = 0.0
    comments: int = 0
    orders: int = 0
    visited: int = 0
    closed: int = 0
    on_time: int = 0

    @staticmethod
    def _pct(n: int, d: int) -> float | None:
        return round(100.0 * n / d, 1) if d else None

    @property
    def good_rate(self) -> float | None:  # 好评率
        return self._pct(self.good, self.rated)

    @property
    def bad_rate(self) -> float | None:  # 差评率
        return self._pct(self.bad, self.rated)

    @property
    def unrated_rate(self) -> float | None:  # 未评价率
        return self._pct(self.skipped, self.rated + self.skipped)

    @property
    def active_rate(self) -> float | None:  # 主动评价率
        return self._pct(self.rated, self.rated + self.skipped)

    @property
    def on_time_rate(self) -> float | None:  # 差评按时办结率
        return self._pct(self.on_time, self.orders)

    @property
    def flags_per_case(self) -> float | None:  # 镜像确认异议 per 100 cases
        return self._pct(self.mirror_flags, self.cases)

    @property
    def away_min(self) -> float:
        return round(self.away_s / 60.0, 1)

    @property
    def avg_wait_min(self) -> float | None:
        return round(self.wait_s / self.called / 60.0, 1) if self.called else None


def utc_bound(day: date, tz: str = "Asia/Shanghai") -> str:
    """The first instant of a local day, as the UTC ISO text ``ts`` is stored in."""
    t = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _keys(by: By) -> list[str]:
    if by is By.STATION:
        return ["site"]
    if by is By.WINDOW:
        return ["site", "device"]
    return [by.value]  # a column of hq_events and of work_orders alike (hq.facts)


def indicators(db: HqDb, start: date, end: date, *, sites: Collection[str] | None = None,
               by: By = By.WINDOW, simulated: bool = False,
               tz: str = "Asia/Shanghai") -> list[Row]:
    """One row per group for local days [start, end). By officer or service, what names
    neither (a ticket is the window's, not an officer's) is in no row."""
    keys = _keys(by)
    rows = _aggregate(db, utc_bound(start, tz), utc_bound(end, tz), keys,
                      [f"w.{k}" for k in keys], sites, simulated)
    if by in (By.OFFICER, By.SERVICE):
        rows = [r for r in rows if r.key != ("",)]
    return rows


def monthly(db: HqDb, last: date, months: int = 12, *, sites: Collection[str] | None = None,
            simulated: bool = False, tz: str = "Asia/Shanghai") -> list[Row]:
    """One row per local month, the ``months`` up to and including ``last``'s, keyed
    ``("2026-11",)``; a month without events has a row of zeros (a trend has no holes)."""
    firsts = [_month_add(last.replace(day=1), i - months + 1) for i in range(months + 1)]
    bounds = [utc_bound(d, tz) for d in firsts]
    labels = [d.strftime("%Y-%m") for d in firsts[:-1]]

    def bucket(col: str) -> str:
        # Plain text comparisons on the stored UTC ``ts``: exact in any zone, any database.
        whens = " ".join(f"WHEN {col} < '{b}' THEN '{m}'" for m, b in zip(labels, bounds[1:],
                                                                            strict=True))
        return f"CASE {whens} END"

    rows = {r.key: r for r in _aggregate(db, bounds[0], bounds[-1], [bucket("ts")],
                                          [bucket("w.event_ts")], sites, simulated)}
    return [rows.get((m,), Row((m,))) for m in labels]


def _month_add(first: date, n: int) -> date:
    y, m = divmod(first.year * 12 + first.month - 1 + n, 12)
    return date(y, m + 1, 1)


def _aggregate(db: HqDb, lo: str, hi: str, keys: list[str], order_keys: list[str],
               sites: Collection[str] | None, simulated: bool) -> list[Row]:
    """The indicators of ts in [lo, hi) grouped by ``keys`` (SQL on hq_events), the
    work orders' by ``order_keys`` (the same groups, on work_orders ``w``)."""
    # The station's copies of its windows' ticket events count in its own report only.
    where = ["verified = 1", "ts >= ?", "ts < ?", f"type IN {COUNTED}",
             f"device <> '{STATION_DEVICE}'"]
    params: list[object] = [lo, hi]
    if not simulated:
        where.append("simulated = 0")
    if sites is not None:
        if not sites:
            return []
        where.append(f"site IN ({', '.join('?' * len(sites))})")
        params += sorted(sites)
    key_sql = ", ".join(f"COALESCE({k}, '')" for k in keys)
    sql = (f"SELECT {key_sql}, "
           "SUM(CASE WHEN type = 'case.ended' THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN type = 'rating.given' THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN type = 'rating.given' AND level IN {GOOD} THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN type = 'rating.given' AND level IN {BAD} THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN type = 'rating.skipped' THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN type = 'case.ended' THEN mirror_flags ELSE 0 END), "
           "SUM(CASE WHEN type = 'away.ended' THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN type = 'away.ended' THEN COALESCE(seconds, 0) ELSE 0 END), "
           "SUM(CASE WHEN type = 'ticket.issued' THEN 1 ELSE 0 END), "
           # A handed-on intake's call (kind 'intake', hq.facts) called nobody in the hall:
           # its "wait" is the night since its receipt, no citizen's.
           f"SUM(CASE WHEN {CITIZENS_CALL} THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN {CITIZENS_CALL} THEN COALESCE(seconds, 0) ELSE 0 END), "
           "SUM(CASE WHEN type = 'comment.submitted' THEN 1 ELSE 0 END) "
           f"FROM hq_events WHERE {' AND '.join(where)} GROUP BY {key_sql}")
    n = len(keys)
    rows: dict[tuple[str, ...], Row] = {}
    for r in db.all(sql, params):
        key = tuple(str(k) for k in r[:n])
        c = [v or 0 for v in r[n:]]
        rows[key] = Row(key, cases=int(c[0]), rated=int(c[1]), good=int(c[2]), bad=int(c[3]),
                        skipped=int(c[4]), mirror_flags=int(c[5]), aways=int(c[6]),
                        away_s=float(c[7]), tickets=int(c[8]), called=int(c[9]),
                        wait_s=float(c[10]), comments=int(c[11]))
    _orders(db, rows, lo, hi, order_keys, sites, simulated)
    return sorted(rows.values(), key=lambda r: r.key)


def _orders(db: HqDb, rows: dict[tuple[str, ...], Row], lo: str, hi: str, keys: list[str],
            sites: Collection[str] | None, simulated: bool) -> None:
    """差评 handled: orders opened in the period, visited, closed, closed never escalated."""
    key_sql = ", ".join(f"COALESCE({k}, '')" for k in keys)
    where = ["w.event_ts >= ?", "w.event_ts < ?"]
    params: list[object] = [lo, hi]
    if not simulated:
        where.append("w.simulated = 0")
    if sites is not None:
        where.append(f"w.site IN ({', '.join('?' * len(sites))})")
        params += sorted(sites)
    sql = (f"SELECT {key_sql}, COUNT(*), "
           "SUM(CASE WHEN w.state <> 'visit' THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN w.state = 'closed' THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN w.state = 'closed' AND NOT EXISTS (SELECT 1 FROM work_order_audit a "
           "WHERE a.order_id = w.id AND a.action = 'escalated') THEN 1 ELSE 0 END) "
           f"FROM work_orders w WHERE {' AND '.join(where)} GROUP BY {key_sql}")
    n = len(keys)
    for r in db.all(sql, params):
        key = tuple(str(k) for k in r[:n])
        row = rows.setdefault(key, Row(key))
        row.orders, row.visited, row.closed, row.on_time = (int(v or 0) for v in r[n:])
