"""The public results (no login) and the staff's publish action, which also sends the
month to the station's counters (site content ``results``)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from device.errors import ParseError, SyncError
from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import console_view, role_of
from hq.broker_env import broker_options
from hq.db import HqDb
from hq.names import Names
from hq.publish.documents import publish as publish_document
from hq.publish.models import Kind
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
    _push_to_counters(request, site, names)
    return redirect("public:notice", site=site, month=month)


def _push_to_counters(request: HttpRequest, site: str, names: Names) -> None:
    """The counters' home screens show the latest published month: send it as site
    content ``results`` (hq.publish). The publication stands whatever the broker says;
    a failure is said plainly, with how to send it again."""
    station = names.station(site)
    try:
        done = publish_document(Kind.RESULTS, site, request.user.get_username(),
                                broker_options("kiosk-hq-console"), "default")
    except SyncError as exc:
        messages.error(request, f"评价结果已公布，但未能推送到{station}的窗口设备：无法连接"
                       f"消息服务器或服务器未确认（{exc}）。请检查消息服务器后，在“内容发布”"
                       "页点击“发布评价结果”重新推送。")
    except ParseError as exc:
        messages.error(request, f"评价结果已公布，但未能推送到{station}的窗口设备：{exc}")
    else:
        messages.success(request, f"已推送到{station}的窗口设备，版本 {done.version.version}。")
