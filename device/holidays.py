"""HQ's working-day calendar (site content kind ``holidays``) for the dates a receipt
promises: per year, the official days off and the weekend days worked instead (调休).

Pure: a document in, the years out. kiosk-sync checks a document with
:func:`parse_holidays` before it stores it (what the schema cannot say: real dates, in
their own year, in one list only, make-up days on a Saturday or Sunday), so what is
stored always reads. A year missing from the result is unknown: a caller shows the
promised date as unknown rather than counting it wrongly.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from device.errors import ParseError
from device.store_content import json_document
from device.workdays import WorkCalendar, YearData

log = logging.getLogger("holidays")

_YEAR = re.compile(r"[0-9]{4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dates(raw: Any, where: str, year: int) -> frozenset[date]:
    if not isinstance(raw, list):
        raise ParseError(f"{where}: must be a list of dates like {year}-01-01")
    out: set[date] = set()
    for i, item in enumerate(raw):
        at = f"{where}[{i}]"
        if not isinstance(item, str) or not _DATE.fullmatch(item):
            raise ParseError(f"{at}: {str(item)[:20]!r} is not a date like {year}-01-01")
        try:
            d = date.fromisoformat(item)
        except ValueError:
            raise ParseError(f"{at}: {item} is not a day of the calendar") from None
        if d.year != year:
            raise ParseError(f"{at}: {item} is not in {year}; list it under {d.year}")
        if d in out:
            raise ParseError(f"{at}: {item} appears twice; list each date once")
        out.add(d)
    return frozenset(out)


def parse_holidays(doc: Mapping[str, Any]) -> dict[int, YearData]:
    """The years of a ``holidays`` document; ParseError naming the field and the fix."""
    years = doc.get("years")
    if not isinstance(years, Mapping):
        raise ParseError('holidays: \'years\' must be an object like {"2027": {"holidays": '
                         '[...], "workdays": [...]}}')
    out: dict[int, YearData] = {}
    for key, entry in years.items():
        where = f"holidays.years.{str(key)[:10]}"
        if not isinstance(key, str) or not _YEAR.fullmatch(key):
            raise ParseError(f"{where}: a year is four digits, e.g. 2027")
        if not isinstance(entry, Mapping):
            raise ParseError(f"{where}: must be an object with holidays and workdays")
        year = int(key)
        off = _dates(entry.get("holidays"), f"{where}.holidays", year)
        worked = _dates(entry.get("workdays"), f"{where}.workdays", year)
        if off & worked:
            raise ParseError(f"{where}: {min(off & worked).isoformat()} is both a holiday "
                             "and a make-up workday; keep it in one list")
        for d in sorted(worked):
            if d.weekday() < 5:
                raise ParseError(f"{where}.workdays: {d.isoformat()} is a "
                                 f"{WEEKDAYS[d.weekday()]}; a make-up workday (调休上班) is a "
                                 "Saturday or Sunday: list a weekday off under holidays")
        out[year] = YearData(year, off, worked)
    return out


def read_holidays(body: str) -> dict[int, YearData]:
    """:func:`parse_holidays` of a stored JSON text (``site_content`` kind holidays)."""
    return parse_holidays(json_document(body, "holidays"))


def work_calendar(stored: str | None) -> WorkCalendar:
    """The counter's working-day calendar: chinese-calendar's years, overlaid by the
    ``holidays`` document HQ published (``stored``: its JSON text, None when there is
    none yet). A stored document that does not read (it was checked when stored, so only
    a damaged file) leaves the package's years alone rather than taking none."""
    extra: list[YearData] = []
    if stored is not None:
        try:
            extra = list(read_holidays(stored).values())
        except ParseError as exc:
            log.error("stored holidays document unreadable, using the package's years: %s",
                      exc)
    return WorkCalendar.official(extra)
