"""Login (with the previous login kept for the landing page) and the landing page."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hq.accounts.scope import Role, console_view, nav_items, role_of, scoped, visible_sites

# What each section is for, in the landing page's words.
SECTIONS = {
    "wall:index": "每个派出所每个窗口的实时状态：在线、办理、评价、暂离、故障、排队人数。",
    "workorders:list": "每一条不满意评价的回访、核实、整改、答复和办结，逾期的标红。",
    "alerts:list": "派出所上报的窗口离岗超时、候办人数过多，知悉处理并可推送延时服务公告。",
    "reports:index": "任意时段、派出所、窗口、民警、事项的好评率、差评率等指标，可导出。",
    "publish:index": "编辑服务事项、民警名册、通知和预约，发布到窗口设备并查看各设备版本。",
    "public:index": "向群众公开的每月评价结果和差评处理情况（不含个人信息）。",
    "admin:index": "维护派出所、窗口、民警、服务事项、节假日和账号。",
}


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"

    def form_valid(self, form: Any) -> HttpResponse:
        previous = form.get_user().last_login  # before login() moves it to now
        response = super().form_valid(form)
        self.request.session["previous_login"] = previous.isoformat() if previous else ""
        return response


@console_view()
def home(request: HttpRequest) -> HttpResponse:
    from datetime import datetime

    from hq.names import Names

    role = role_of(request.user)
    assert role is not None  # console_view let only a role in
    sites = visible_sites(request.user)
    previous = request.session.get("previous_login") or ""
    names = Names.load()

    cards = [{**item, "about": SECTIONS[item["name"]]} for item in nav_items(request)
             if item["name"] in SECTIONS]
    return render(request, "accounts/home.html", {
        "cards": cards,
        "role": role, "role_label": role.label,
        "stations": [names.station(s) for s in sorted(sites)] if sites is not None else None,
        "previous_login": datetime.fromisoformat(previous) if previous else None,
        "is_chief": role is Role.CHIEF,
        "open_alerts": _open_alerts(request, cards),
    })


def _open_alerts(request: HttpRequest, cards: list[dict[str, Any]]) -> int | None:
    """The user's open station alerts, for the landing page's line; None for a role that
    does not see alerts (it has no card for them either)."""
    if not any(c["name"] == "alerts:list" for c in cards):
        return None
    from hq.alerts.models import Alert, State  # the landing page's one look at alerts

    return scoped(Alert.objects.filter(state=State.OPEN.value), request.user).count()


def healthz(request: HttpRequest) -> HttpResponse:
    """For the service's watchdog: "ok" once the database answers; nothing else."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return HttpResponse(b"ok", content_type="text/plain")
