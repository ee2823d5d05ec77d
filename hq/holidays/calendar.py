"""The calendar the deadlines use: chinese-calendar's years plus the years HQ entered."""

from __future__ import annotations

from device.workdays import WorkCalendar


def work_calendar(using: str = "default") -> WorkCalendar:
    from hq.holidays.models import HolidayYear

    return WorkCalendar.official(h.data() for h in HolidayYear.objects.using(using))
