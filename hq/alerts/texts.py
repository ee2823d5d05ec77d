"""What an alert is and says, in the chief's words: its kinds, states and record actions,
and its text from the station's event data. No Django: the collector (hq/store.py,
imported before Django is set up) builds the text at ingest, once, and the pages show
it as stored."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Kind(StrEnum):
    """The station's events that open an alert (station/service.py ``tick``)."""

    AWAY = "window.away_too_long"
    CROWDED = "station.crowded"

    @property
    def label(self) -> str:
        return {Kind.AWAY: "窗口离岗超时", Kind.CROWDED: "候办人数过多"}[self]


def _n(value: Any) -> str:
    """A whole number as the station sent it (minutes floored: 17.6 minutes away is "已
    17 分钟", never more than has passed); "?" for what is not a number, so a malformed
    field still opens an alert that shows what it lacks."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "?"
    return str(int(value))


def describe(kind: Kind, data: Mapping[str, Any]) -> str:
    if kind is Kind.AWAY:
        backup = data.get("backup")
        who = (f"由 {_n(backup)}号窗口代办" if isinstance(backup, int) and backup > 0
               else "无代办窗口")
        return (f"{_n(data.get('window'))}号窗口离岗已 {_n(data.get('away_min'))} 分钟"
                f"（上限 {_n(data.get('limit_min'))} 分钟），{who}")
    return (f"候办 {_n(data.get('waiting'))} 人，最长已等 {_n(data.get('longest_wait_min'))} "
            f"分钟（阈值 {_n(data.get('limit_waiting'))} 人 / "
            f"{_n(data.get('limit_wait_min'))} 分钟）")


def window_of(kind: Kind, data: Mapping[str, Any]) -> int | None:
    w = data.get("window")
    return w if kind is Kind.AWAY and isinstance(w, int) and not isinstance(w, bool) else None


class State(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"

    @property
    def label(self) -> str:
        return {State.OPEN: "未处理", State.ACKNOWLEDGED: "已知悉"}[self]


class Action(StrEnum):
    OPENED = "opened"
    ACKNOWLEDGED = "acknowledged"
    NOTICE_PUSHED = "notice_pushed"
    NOTICE_FAILED = "notice_failed"

    @property
    def label(self) -> str:
        return {Action.OPENED: "收到告警", Action.ACKNOWLEDGED: "知悉",
                Action.NOTICE_PUSHED: "推送延时服务公告",
                Action.NOTICE_FAILED: "推送公告失败"}[self]
