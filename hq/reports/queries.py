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

GOOD = ("very_satisfied", "satisfied")
BAD = ("unsatisfied", "very_unsatisfied")


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


def utc_bound(day: date, tz: str = "Asia/Shanghai") -> str:
    """The first instant of a local day, as the UTC ISO text ``ts`` is stored in."""
    t = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(ZoneInfo("UTC"))
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _field(db: HqDb, name: str) -> str:
    """A data field of the event, read from the inner query's row (see indicators)."""
    if db.kind == "postgresql":
        return f"(d->>'{name}')"
    return f"json_extract(body, '$.data.{name}')"


def _data(db: HqDb) -> str:
    """The inner query's JSON column. PostgreSQL parses each body once here (``OFFSET 0``
    keeps the planner from inlining it into every field read: 5x slower)."""
    return "(body::jsonb)->'data' AS d" if db.kind == "postgresql" else "body"


def _keys(db: HqDb, by: By, events: bool) -> list[str]:
    if by is By.STATION:
        return ["site"]
    if by is By.WINDOW:
        return ["site", "device"]
    col = by.value
    return [_field(db, col) if events else col]


def indicators(db: HqDb, start: date, end: date, *, sites: Collection[str] | None = None,
               by: By = By.WINDOW, simulated: bool = False,
               tz: str = "Asia/Shanghai") -> list[Row]:
    """One row per group for local days [start, end)."""
    keys = _keys(db, by, events=True)
    level = _field(db, "level")
    flags = _field(db, "mirror_flags")
    # A count, whatever a body holds there (SQLite's CAST gives 0 for text; PostgreSQL's
    # would fail the whole report, so only digits are cast there).
    cast = (f"CASE WHEN {flags} ~ '^[0-9]{{1,6}}$' THEN CAST({flags} AS INTEGER) ELSE 0 END"
            if db.kind == "postgresql" else f"CAST(COALESCE({flags}, 0) AS INTEGER)")
    where = ["verified = 1", "ts >= ?", "ts < ?",
             "type IN ('case.ended', 'rating.given', 'rating.skipped')"]
    params: list[object] = [utc_bound(start, tz), utc_bound(end, tz)]
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
           f"SUM(CASE WHEN type = 'rating.given' AND {level} IN {GOOD} THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN type = 'rating.given' AND {level} IN {BAD} THEN 1 ELSE 0 END), "
           "SUM(CASE WHEN type = 'rating.skipped' THEN 1 ELSE 0 END), "
           f"SUM(CASE WHEN type = 'case.ended' THEN {cast} ELSE 0 END) "
           f"FROM (SELECT site, device, type, {_data(db)} FROM hq_events WHERE "
           f"{' AND '.join(where)}{' OFFSET 0' if db.kind == 'postgresql' else ''}) e "
           f"GROUP BY {key_sql}")
    n = len(keys)
    rows: dict[tuple[str, ...], Row] = {}
    for r in db.all(sql, params):
        key = tuple(str(k) for k in r[:n])
        rows[key] = Row(key, *(int(v or 0) for v in r[n:]))
    _orders(db, rows, start, end, sites, by, simulated, tz)
    return sorted(rows.values(), key=lambda r: r.key)


def _orders(db: HqDb, rows: dict[tuple[str, ...], Row], start: date, end: date,
            sites: Collection[str] | None, by: By, simulated: bool, tz: str) -> None:
    """差评 handled: orders opened in the period, visited, closed, closed never escalated."""
    keys = _keys(db, by, events=False)
    key_sql = ", ".join(f"COALESCE(w.{k}, '')" for k in keys)
    where = ["w.event_ts >= ?", "w.event_ts < ?"]
    params: list[object] = [utc_bound(start, tz), utc_bound(end, tz)]
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
