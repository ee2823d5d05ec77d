"""What the sign shows: :class:`SignView` (a page and the text of every variable).

:func:`view_for` computes it from a counter :class:`~device.counter.Snapshot` and the
config (pure; tested directly): closed, open, serving or rating, or away with the reason,
the expected return time (:func:`_hhmm`), the phone and the backup officer or window
(:func:`_backup_text`). :meth:`SignView.writes` turns it into the (VP, data) writes the
driver sends, the page switch last.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from device.config import Config
from device.counter import Mode, Snapshot
from drivers.sign.codec import VARS_BY_NAME, VP_PAGE, Page, encode_text, page_data


@dataclass(frozen=True)
class SignView:
    page: int
    texts: tuple[tuple[str, str], ...]  # (variable name, text) for every TEXT_VARS entry

    def text(self, name: str) -> str:
        return dict(self.texts)[name]

    def writes(self) -> list[tuple[int, bytes]]:
        """(VP, data) for every variable, then the page switch last, so a page appears
        with its text already in place."""
        out = [(VARS_BY_NAME[n].vp, encode_text(t, VARS_BY_NAME[n].size))
               for n, t in self.texts]
        out.append((VP_PAGE, page_data(self.page)))
        return out


def _hhmm(iso: str, tz: ZoneInfo, now: float) -> str:
    try:
        at = datetime.fromisoformat(iso).astimezone(tz)
    except ValueError:
        return iso[:16]
    today = datetime.fromtimestamp(now, tz).date()
    return at.strftime("%H:%M") if at.date() == today else at.strftime("%m月%d日 %H:%M")


def _backup_text(backup: str, config: Config) -> str:
    """"000002; window 2" (the core's default) -> "王芳 警号000002，2号窗口"."""
    parts = []
    for raw in backup.split(";"):
        part = raw.strip()
        if not part:
            continue
        m = re.fullmatch(r"window\s*(\d+)", part, re.IGNORECASE)
        officer = config.officer(part)
        if m:
            parts.append(f"{m.group(1)}号窗口")
        elif officer is not None:
            parts.append(f"{officer.name} 警号{officer.badge}")
        else:
            parts.append(part)
    return "，".join(parts)


def view_for(s: Snapshot, config: Config, ticket: str = "",
             now: float | None = None) -> SignView:
    """What the sign shows for a counter state (pure; tested directly)."""
    w = config.window
    texts = dict.fromkeys(VARS_BY_NAME, "")
    texts["window"] = f"{w.number}号窗口 {w.name}"
    officer = config.officer(s.officer) if s.officer else None
    if s.officer:
        texts["officer"] = (f"{officer.name} 警号{s.officer}" if officer
                            else f"警号{s.officer}")
    if not s.officer:
        page, texts["status"] = Page.CLOSED, "暂停服务"
    elif s.mode is Mode.AWAY and s.away is not None:
        tz = ZoneInfo(config.device.timezone)
        page, texts["status"] = Page.AWAY, "暂时离开"
        texts["reason"] = s.away.reason
        texts["return_at"] = _hhmm(s.away.return_at, tz, time.time() if now is None else now)
        texts["phone"] = s.away.phone
        texts["backup"] = _backup_text(s.away.backup, config)
    elif s.mode is Mode.SERVING:
        page, texts["status"] = Page.SERVING, "正在办理"
        texts["ticket"] = ticket
    elif s.mode is Mode.RATING:
        page, texts["status"] = Page.SERVING, "请评价"
        texts["ticket"] = ticket
    else:
        page, texts["status"] = Page.OPEN, "欢迎办理"
        texts["ticket"] = ticket
    return SignView(page, tuple(texts.items()))
