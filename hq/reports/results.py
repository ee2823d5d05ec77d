"""A station's month of results as the public sees it: figures and names, no personal
data (no case number, no phone, no citizen)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hq.db import HqDb
from hq.names import Names
from hq.reports.queries import By, Row, indicators


def month_bounds(month: str) -> tuple[date, date]:
    """``2026-11`` -> (2026-11-01, 2026-12-01); ValueError naming the form otherwise."""
    try:
        y, m = (int(p) for p in month.split("-"))
        start = date(y, m, 1)
    except ValueError:
        raise ValueError(f"month {month!r} is not like 2026-11") from None
    return start, date(y + (m == 12), m % 12 + 1, 1)


def _figures(r: Row | None) -> dict[str, Any]:
    if r is None:
        return {"rated": 0, "good_rate": None, "bad_rate": None, "bad_total": 0,
                "bad_closed": 0, "bad_on_time": 0}
    return {"rated": r.rated, "good_rate": r.good_rate, "bad_rate": r.bad_rate,
            "bad_total": r.orders, "bad_closed": r.closed, "bad_on_time": r.on_time}


def results_document(db: HqDb, site: str, month: str, names: Names) -> dict[str, Any]:
    start, end = month_bounds(month)
    station = indicators(db, start, end, sites={site}, by=By.STATION)
    windows = indicators(db, start, end, sites={site}, by=By.WINDOW)
    return {"month": month, "station": {"name": names.station(site),
                                        **_figures(station[0] if station else None)},
            "windows": {r.key[1]: {"name": names.window(site, r.key[1]), **_figures(r)}
                        for r in windows}}
