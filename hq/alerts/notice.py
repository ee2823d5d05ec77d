"""The extended-hours notice (弹性工作制) a crowded station may put on every screen of its
hall: its default text and end time, and the check of an end time typed in.

HQ knows no station's opening hours (the station's own config has none either), so the
default end is two hours from now, rounded up to the next half hour: long enough for
the people waiting when the alert came (its threshold is in tens of minutes), short
enough that the chief states it and can push again. Never past 23:30 of today: a notice
is for today's hall.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

TEMPLATE = "今日办理人数较多，本所延时服务至 {hhmm}，请耐心等候。"
LATEST = time(23, 30)
MAX_TEXT = 200  # the hall and the windows' home screens show it in one or two lines


def default_until(now: datetime) -> datetime:
    """``now`` + 2 h, up to the next :00 or :30, on ``now``'s day (at most 23:30; 23:59
    when it is later than that already)."""
    t = (now + timedelta(hours=2)).replace(second=0, microsecond=0)
    if t.minute % 30:
        t += timedelta(minutes=30 - t.minute % 30)
    latest = now.replace(hour=LATEST.hour, minute=LATEST.minute, second=0, microsecond=0)
    if t.date() != now.date() or t > latest:
        t = latest if latest > now else now.replace(hour=23, minute=59, second=0,
                                                     microsecond=0)
    return t


def default_text(until: datetime) -> str:
    return TEMPLATE.format(hhmm=until.strftime("%H:%M"))


def end_today(now: datetime, at: time) -> datetime:
    """The end time ``at`` on ``now``'s day; ValueError (for the page) unless later."""
    until = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if until <= now:
        raise ValueError(f"结束时间 {at:%H:%M} 已过，请填写今天晚于现在（{now:%H:%M}）的时间")
    return until
