"""Working days under the official Chinese calendar, with the make-up workdays (调休).

The years chinese-calendar knows (2004-2026 in 1.11) come from its tables; a year HQ
entered (hq.holidays) overrides or extends them. A date in a year neither knows raises
UnknownYear with the reason: a deadline is shown as unknown, never computed wrongly.
Pure: no Django (an import contract checks it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# A step may not be due further off than this many working days (a bounded walk).
MAX_WORKDAYS = 366


class UnknownYear(Exception):
    def __init__(self, year: int, known: Iterable[int]) -> None:
        self.year = year
        years = sorted(known)
        span = f"{years[0]}–{years[-1]}" if years else "无"
        self.reason = (f"{year} 年的节假日安排尚未录入（已知年份：{span}）。请在管理后台"
                       f"「节假日」录入国务院办公厅公布的 {year} 年安排。")
        super().__init__(f"no holiday data for {year} (known: {span}); enter the State "
                         f"Council's {year} schedule under 节假日 in the admin")


@dataclass(frozen=True)
class YearData:
    """One year's official days off and the weekend days that are workdays instead."""

    year: int
    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        for d in self.holidays | self.workdays:
            if d.year != self.year:
                raise ValueError(f"{d.isoformat()} is not in {self.year}: list each year's "
                                 "dates under that year")
        both = self.holidays & self.workdays
        if both:
            raise ValueError(f"{min(both).isoformat()} is both a holiday and a make-up "
                             "workday: keep it in one list")
        for d in self.workdays:
            if d.weekday() < 5:
                raise ValueError(f"make-up workday {d.isoformat()} is a weekday: a make-up "
                                 "workday (调休上班) is a Saturday or Sunday")


def official_years() -> dict[int, YearData]:
    """The years the chinese-calendar package knows, from its tables."""
    from chinese_calendar import constants

    years: dict[int, YearData] = {}
    for y in sorted({d.year for d in constants.holidays}):
        years[y] = YearData(
            y, frozenset(d for d in constants.holidays if d.year == y),
            frozenset(d for d in constants.workdays if d.year == y and d.weekday() >= 5))
    return years


class WorkCalendar:
    def __init__(self, years: Mapping[int, YearData]) -> None:
        self.years = dict(years)

    @classmethod
    def official(cls, extra: Iterable[YearData] = ()) -> WorkCalendar:
        """chinese-calendar's years, overlaid by the years HQ entered (HQ wins)."""
        years = official_years()
        years.update({y.year: y for y in extra})
        return cls(years)

    def known_years(self) -> frozenset[int]:
        return frozenset(self.years)

    def is_workday(self, d: date) -> bool:
        data = self.years.get(d.year)
        if data is None:
            raise UnknownYear(d.year, self.years)
        if d in data.workdays:
            return True
        return d.weekday() < 5 and d not in data.holidays

    def add_workdays(self, start: date, n: int) -> date:
        """The n-th working day after ``start`` (n = 0: start itself if it is one, else
        the next working day)."""
        if not 0 <= n <= MAX_WORKDAYS:
            raise ValueError(f"{n} working days: use 0 to {MAX_WORKDAYS}")
        d = start
        if n == 0:
            while not self.is_workday(d):
                d += timedelta(days=1)
            return d
        while n:
            d += timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d

    def workdays_between(self, a: date, b: date) -> int:
        """Working days in (a, b]."""
        count, d = 0, a
        while d < b:
            d += timedelta(days=1)
            count += self.is_workday(d)
        return count

    def deadline(self, opened: datetime, n: int, tz: str = "Asia/Shanghai") -> datetime:
        """A step due within n working days of ``opened`` is due at the end of the n-th
        working day after the day it opened, in the site's zone."""
        zone = ZoneInfo(tz)
        day = self.add_workdays(opened.astimezone(zone).date(), n)
        return datetime.combine(day, time(23, 59, 59, 999000), tzinfo=zone)
