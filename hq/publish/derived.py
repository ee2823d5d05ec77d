"""The site-content documents HQ does not edit as rows but derives from what it already
decided elsewhere: the station's published month of results (hq.reports) and the
working-day calendar (hq.holidays over chinese-calendar). documents.BUILDERS holds them
beside the edited kinds, so they are versioned, checked and published the same way."""

from __future__ import annotations

from datetime import date
from typing import Any

from device.errors import ParseError
from hq.holidays.calendar import work_calendar
from hq.reports.models import PublishedMonth


def _figures(raw: Any) -> dict[str, Any]:
    # A rate is None when nobody rated; the counters' schema has no null, so it is left out.
    return {k: v for k, v in raw.items() if v is not None} if isinstance(raw, dict) else {}


def results(site: str, _day: date, using: str) -> dict[str, Any]:
    """The station's latest published month, as frozen when it was published: a month
    published again later (a correction) or an older one published late never hides
    the newest month from the counters."""
    latest = PublishedMonth.objects.using(using).filter(site=site).order_by("-month").first()
    if latest is None:
        raise ParseError(f"站点 {site} 还没有公布过月度评价结果。修改方法：由督察在“评价结果"
                         "公开”页公布一个已结束的月份，公布时会自动推送到窗口")
    doc = latest.doc
    windows = doc.get("windows")
    return {"month": latest.month, "station": _figures(doc.get("station")),
            "windows": [{"device": device, **_figures(w)}
                        for device, w in sorted((windows or {}).items())]}


def holidays(_site: str, day: date, using: str) -> dict[str, Any]:
    """Every year HQ knows from last year on (a promise made in December runs into the
    next year; last year covers a receipt reprinted in January). HQ's entries override
    the package's tables (device.workdays.WorkCalendar.official)."""
    years = work_calendar(using).years
    return {"years": {
        str(y): {"holidays": sorted(d.isoformat() for d in data.holidays),
                 "workdays": sorted(d.isoformat() for d in data.workdays)}
        for y, data in sorted(years.items()) if y >= day.year - 1}}
