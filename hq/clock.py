"""The console's clock. KIOSK_HQ_NOW (an ISO datetime) fixes it, so a test can show a
work order past its deadline without waiting for one; nothing else reads the wall clock."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

from hq.conf import TIME_ZONE


def now() -> datetime:
    """An aware datetime: KIOSK_HQ_NOW if set (naive means Asia/Shanghai), else now."""
    fixed = os.environ.get("KIOSK_HQ_NOW", "")
    if fixed:
        t = datetime.fromisoformat(fixed)
        return t if t.tzinfo else t.replace(tzinfo=ZoneInfo(TIME_ZONE))
    return datetime.now(ZoneInfo(TIME_ZONE))
