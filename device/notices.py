"""HQ's notices (site content kind ``notices``) in force now, with config's
``window.notice`` as the fallback.

kiosk-sync stores HQ's document as it came (``{"version", "notices": [{"id", "text",
"level", "from", "until"}]}``, validated against sync/schema.py) in ``site_content``.
:class:`NoticeBoard` reads it like the catalogue is read: again only when another
connection committed (``PRAGMA data_version``), each text checked once here
(device.fields), and a notice shows only inside its validity period (``from`` <= now <
``until``; either end may be missing). sync/schema.py allows a date alone or a time
without offset: those are the counter's local time, and a date alone in ``until`` means
through the end of that day. A stored document that does not parse is logged and the
fallback shows. The screens only display :meth:`NoticeBoard.current`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from device.errors import ParseError
from device.fields import text_field
from device.store import Store

log = logging.getLogger("notices")

LEVELS = ("urgent", "warning", "info")  # shown in this order


@dataclass(frozen=True)
class Notice:
    id: str
    text: str
    level: str = "info"
    start: float | None = None  # epoch seconds; None: since ever
    end: float | None = None    # epoch seconds; None: until replaced

    def valid_at(self, now: float) -> bool:
        return (self.start is None or self.start <= now) and (self.end is None or now < self.end)


def _ts(item: dict[str, object], key: str, where: str, tz: tzinfo) -> float | None:
    raw = item.get(key)
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ParseError(f"notices {where}: {key!r} must be an ISO 8601 time")
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"notices {where}: {key!r} is not an ISO 8601 time: {raw!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)  # the counter's local time
    if key == "until" and "T" not in raw:
        parsed += timedelta(days=1)  # a date alone: through the end of that day
    return parsed.timestamp()


def parse_notices(body: str, tz: tzinfo | None = None) -> tuple[str, tuple[Notice, ...]]:
    """(version, notices) of a stored ``notices`` document; ParseError if malformed."""
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, TypeError) as exc:
        raise ParseError(f"notices: site content is not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("notices"), list):
        raise ParseError("notices: the document must be an object with a 'notices' list")
    version = text_field(doc, "version", required=False, limit=64, where="notices document")
    zone = tz or ZoneInfo("Asia/Shanghai")
    out: list[Notice] = []
    for i, item in enumerate(doc["notices"]):
        where = f"notices[{i}]"
        if not isinstance(item, dict):
            raise ParseError(f"notices {where}: must be an object with id and text")
        level = item.get("level", "info")
        if level not in LEVELS:
            raise ParseError(f"notices {where}: 'level' must be one of {list(LEVELS)}")
        out.append(Notice(
            id=text_field(item, "id", limit=64, where=f"notices {where}"),
            text=text_field(item, "text", limit=2000, where=f"notices {where}",
                            multiline=True, nonempty=True),
            level=str(level), start=_ts(item, "from", where, zone),
            end=_ts(item, "until", where, zone)))
    return version, tuple(out)


class NoticeBoard:
    """The notices to show now: HQ's valid ones, else config's ``window.notice``."""

    def __init__(self, store: Store | None, fallback: str = "",
                 timezone: str = "Asia/Shanghai") -> None:
        self.store = store
        self._tz = ZoneInfo(timezone)
        self.fallback = fallback
        self.problem = ""
        self._version = -1
        self._notices: tuple[Notice, ...] = ()
        self._from_hq = False

    def _refresh(self) -> None:
        if self.store is None:
            return
        dv = self.store.data_version()
        if dv == self._version:
            return
        self._version = dv
        stored = self.store.site_content("notices")
        self._notices, self._from_hq = (), stored is not None
        if stored is None:
            self.problem = ""
            return
        try:
            _version, self._notices = parse_notices(stored.body, self._tz)
            self.problem = ""
        except ParseError as exc:
            if self.problem != str(exc):
                log.error("stored notices %s rejected, showing window.notice: %s",
                          stored.version, exc)
            self.problem = str(exc)
            self._from_hq = False

    def current(self, now: float) -> list[Notice]:
        """HQ's notices valid at ``now`` (urgent first); config's notice when HQ sent
        none or none is valid now."""
        self._refresh()
        valid = sorted((n for n in self._notices if n.valid_at(now)),
                       key=lambda n: LEVELS.index(n.level))
        if valid:
            return valid
        return [Notice("window.notice", self.fallback)] if self.fallback else []
