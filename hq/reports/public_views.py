"""The public results (no login) and the staff's publish action."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import console_view, role_of
from hq.db import HqDb
from hq.names import Names
from hq.reports.models import PublishedMonth
from hq.reports.results import month_bounds, results_document


def index(request: HttpRequest) -> HttpResponse:
    names = Names.load()
    months = list(PublishedMonth.objects.all()[:200])
    stations: dict[str, list[PublishedMonth]] = {}
    for p in months:
        stations.setdefault(p.site, []).append(p)
    return render(request, "public/index.html", {
        "stations": [{"site": s, "name": names.station(s), "months": ms}
                     for s, ms in sorted(stations.items(), key=lambda kv: names.station(kv[0]))],
        "sites": sorted(names.stations.items(), key=lambda kv: kv[1]),
        "may_publish": role_of(request.user) in (Role.ADMIN, Role.SUPERVISOR)})


def notice(request: HttpRequest, site: str, month: str) -> HttpResponse:
    found = PublishedMonth.objects.filter(site=site, month=month).first()
    if found is None:  # only published months are public
        raise Http404("没有公布这个月份")
    return render(request, "public/notice.html", {"p": found, "doc": found.doc})


@require_POST
@console_view(Role.ADMIN, Role.SUPERVISOR)
def publish(request: HttpRequest) -> HttpResponse:
    site, month = request.POST.get("site", ""), request.POST.get("month", "")
    names = Names.load()
    if site not in names.stations:
        messages.error(request, "请选择派出所")
        return redirect("public:index")
    try:
        _start, end = month_bounds(month)
    except ValueError:
        messages.error(request, "请按 2026-11 的格式填写月份")
        return redirect("public:index")
    if end > clock.now().date():
        messages.error(request, f"{month} 还没有结束，月度结果在下月公布")
        return redirect("public:index")
    doc = results_document(HqDb("default"), site, month, names)
    PublishedMonth.objects.update_or_create(site=site, month=month, defaults={
        "document": json.dumps(doc, ensure_ascii=False),
        "published_by": request.user.get_username(), "published_at": clock.now()})
    messages.success(request, f"已公布{names.station(site)} {month} 的评价结果")
    return redirect("public:notice", site=site, month=month)
