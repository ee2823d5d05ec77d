"""What citizens tell the counter besides the rating pad: the comment book (意见簿), and
this window's satisfaction rate for the month (shown on the home screen).

The kiosk has no Chinese input method, so the comment book takes a category and an
optional phone number; the QR code it shows opens a longer written comment on the
citizen's own phone, linked to the kiosk entry by ``ref``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from device.core import Core
from device.errors import ParseError
from device.events import Draft, Envelope, EventType
from device.rating import RatingLevel
from device.store import Store

COMMENT_CATEGORIES: dict[str, str] = {
    "praise": "表扬",
    "suggestion": "建议",
    "service_attitude": "服务态度",
    "waiting_time": "等候时间",
    "process": "办事流程",
    "environment": "环境设施",
    "complaint": "投诉",
}
_PHONE_RE = re.compile(r"^1\d{10}$|^0\d{9,11}$")


def valid_phone(phone: str) -> bool:
    """A mainland mobile (11 digits from 1) or a landline with area code."""
    return bool(_PHONE_RE.match(phone))


def new_ref() -> str:
    return secrets.token_hex(4)


def comment_url(base: str, site: str, device: str, ref: str) -> str:
    """What the comment book's QR code holds: HQ's page with this kiosk and entry."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}{urlencode({'site': site, 'device': device, 'ref': ref})}"


def submit_comment(core: Core, categories: list[str], phone: str = "",
                   ref: str = "") -> Envelope:
    """Record comment.submitted. The phone is sent only because the citizen typed it for
    a call back (as with rating.details); it is kept under ``callback_phone`` so the core's
    log line leaves it out."""
    if not categories:
        raise ParseError("comment: choose at least one category")
    unknown = [c for c in categories if c not in COMMENT_CATEGORIES]
    if unknown:
        raise ParseError(f"comment: unknown categories {unknown}; known: "
                         f"{sorted(COMMENT_CATEGORIES)}")
    if phone and not valid_phone(phone):
        raise ParseError("comment: the phone must be 11 digits from 1, or a landline with "
                         "its area code")
    s = core.state
    events = core.record([Draft(EventType.COMMENT_SUBMITTED, {
        "categories": list(categories), "officer": s.officer, "ref": ref,
        "callback_requested": bool(phone), "callback_phone": phone})])
    return events[0]


@dataclass(frozen=True)
class Satisfaction:
    satisfied: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.satisfied / self.total, 1) if self.total else None

    @property
    def text(self) -> str:
        return f"{self.percent:.1f}%" if self.total else "暂无评价"


def monthly_satisfaction(store: Store, timezone: str, now: float) -> Satisfaction:
    """This counter's ratings since the 1st of this month (local time).

    Satisfied = 非常满意, 满意 or 基本满意 (score >= 3), the share the evaluation reports as
    满意率. Reads the journal, which keeps sent events for store.retention_days (at least
    32, checked at start-up), so the whole month is always there.
    """
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(now, tz)
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    since = start.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    satisfied = total = 0
    for level, n in store.rating_counts_since(since).items():
        total += int(n)
        try:
            if RatingLevel(level).score >= 3:
                satisfied += int(n)
        except ValueError:
            continue
    return Satisfaction(satisfied, total)
