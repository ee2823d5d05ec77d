"""What the panel's page shows: the counter's state and the choices its forms offer, read
from the core, the catalogue in force, the ticket book and the working-day calendar.

Pure reads: nothing here submits. The template (templates/panel.html) only lays it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from device.catalogue import Catalogue, PromiseUnit
from device.core import Core
from device.documents import promised_date
from device.errors import ParseError
from device.roster import Officer
from device.snapshot import Mode
from drivers.link_documents import calendar_of

MODE_TEXT = {Mode.IDLE: "空闲，可以叫号", Mode.SERVING: "正在办理",
             Mode.RATING: "等待群众评价", Mode.AWAY: "暂离"}
AWAY_REASONS = ("临时离开", "窗口会议", "业务培训", "就餐", "外出办事")


@dataclass(frozen=True)
class Choice:
    value: str
    text: str
    detail: str = ""


def state(core: Core, catalogue: Catalogue) -> dict[str, Any]:
    """The status block (also /status.json, which the page polls)."""
    s = core.state
    waiting = core.tickets.waiting() if core.tickets is not None else []
    out: dict[str, Any] = {
        "mode": s.mode.value, "mode_text": MODE_TEXT[s.mode], "officer": s.officer,
        "case_no": s.case_no, "service": s.service,
        "service_name": catalogue.name(s.service) if s.service else "",
        "ticket": s.ticket, "waiting": len(waiting),
        "waiting_numbers": [t.number for t in waiting[:12]],
        "document": s.document.title if s.document is not None else "",
        "away": None,
    }
    if s.away is not None:
        back = datetime.fromisoformat(s.away.return_at)
        out["away"] = {"reason": s.away.reason, "return_at": back.strftime("%H:%M"),
                       "backup": s.away.backup}
    # Changes with every commit the officer should see (a rating, a 确认): the page
    # reloads when it differs and nothing is being typed.
    out["version"] = "|".join(str(x) for x in (
        s.mode.value, s.case_no, s.ticket, s.rated_case, len(waiting), out["document"],
        s.away.since if s.away else ""))
    return out


def context(core: Core, catalogue: Catalogue, officers: dict[str, Officer],
            badge: str) -> dict[str, Any]:
    """Everything the signed-in page needs besides the session."""
    cfg = core.config
    s = core.state
    now = datetime.fromtimestamp(core.clock(), ZoneInfo(cfg.device.timezone))
    service = catalogue.get(s.service) if s.service else None
    ctx: dict[str, Any] = {
        "state": state(core, catalogue),
        "window": cfg.window.number, "station": cfg.window.station,
        "services": [Choice(x.code, x.name) for x in catalogue.services],
        "referrals": [Choice(r.code, r.unit, r.matters) for r in catalogue.referrals],
        "backups": [Choice(o.badge, f"{o.name}（{o.badge}）") for o in officers.values()
                    if o.badge != badge],
        "away_reasons": AWAY_REASONS,
        "recent_cases": list(reversed(s.recent_cases)),
        "today": now.date().isoformat(),
        "return_default": (now + timedelta(minutes=cfg.staff.away_minutes)).strftime("%H:%M"),
        "service": None,
    }
    if service is not None:
        promise: dict[str, str] = {"text": "当场办结，无承诺期限", "date": "", "error": ""}
        if service.promise is not None:
            unit = "个工作日" if service.promise.unit is PromiseUnit.WORKING else "日"
            promise["text"] = f"{service.promise.days}{unit}"
            calendar = calendar_of(core)
            try:
                d = promised_date("", service.promise, calendar, now.date())
                promise["date"] = f"{d.year}年{d.month}月{d.day}日"
            except ParseError:  # a year the calendar does not know: never a guessed date
                last = max(calendar.known_years(), default=now.year)
                promise["error"] = (f"无法按时限计算承诺日期：本机的节假日数据只到{last}年。"
                                    "请分局发布新一年的节假日安排，或在“另定日期”中填写。")
        ctx["service"] = {
            "name": service.name,
            "materials": [Choice(str(i), m) for i, m in enumerate(service.materials, 1)],
            "refusals": [Choice(str(i), r.reason, r.basis)
                         for i, r in enumerate(service.refusals, 1)],
            "promise": promise,
        }
    return ctx
