"""The alert pages: the list (with a push form per crowded station), one alert with its
record, its acknowledge form and, on a crowded alert, the extended-hours push."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render

from device.errors import ParseError
from hq import clock
from hq.accounts.scope import console_view, scoped, site_or_404, visible_sites
from hq.alerts import actions
from hq.alerts.models import Action, Alert, Refused, State
from hq.alerts.notice import MAX_TEXT, default_text, default_until, end_today
from hq.alerts.texts import Kind
from hq.broker_env import broker_options
from hq.conf import TIME_ZONE
from hq.names import Names

ZONE = ZoneInfo(TIME_ZONE)
# The landing page's line and the header: open alerts first, the rest one filter away.
FILTER_STATES = [("", "全部"), *((s.value, s.label) for s in State)]


class AckForm(forms.Form):
    remark = forms.CharField(label="备注（可不填）", required=False, max_length=500,
                             widget=forms.Textarea(attrs={"rows": 2}))


class PushForm(forms.Form):
    text = forms.CharField(label="公告内容", max_length=MAX_TEXT,
                           widget=forms.Textarea(attrs={"rows": 2}))
    until = forms.TimeField(label="显示至（今天）", input_formats=["%H:%M"],
                            # Plain text, not type=time: a browser's time picker may
                            # show "06:30 PM" on a Chinese page.
                            widget=forms.TimeInput(format="%H:%M", attrs={
                                "inputmode": "numeric", "placeholder": "18:30",
                                "pattern": "[0-2][0-9]:[0-5][0-9]", "size": "5"}))


def push_form(now: datetime) -> PushForm:
    until = default_until(now)
    return PushForm(initial={"text": default_text(until), "until": until.time()},
                    label_suffix="：")


def _row(alert: Alert, names: Names) -> dict[str, Any]:
    try:
        at: datetime | None = datetime.fromisoformat(alert.event_ts).astimezone(ZONE)
    except ValueError:
        at = None
    return {"a": alert, "station": names.station(alert.site), "kind": alert.kind_enum.label,
            "state": alert.state_enum.label, "at": at,
            "crowded": alert.kind_enum is Kind.CROWDED}


@console_view(*actions.HANDLERS)
def alert_list(request: HttpRequest) -> HttpResponse:
    qs = scoped(Alert.objects.all(), request.user).order_by("-event_ts", "-id")
    state = request.GET.get("state", "")
    if state in {s.value for s in State}:
        qs = qs.filter(state=state)
    site = request.GET.get("site", "")
    if site:
        site_or_404(request.user, site)
        qs = qs.filter(site=site)
    names = Names.load()
    rows = [_row(a, names) for a in qs[:500]]
    sites = visible_sites(request.user)
    stations = sorted(((s, names.station(s)) for s in (
        sites if sites is not None else set(Alert.objects.values_list("site", flat=True)))),
        key=lambda p: p[1])
    # One push form per station with a crowded alert on the page, on its newest one
    # (where the push is recorded).
    crowded: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["crowded"]:
            crowded.setdefault(r["a"].site, r)
    return render(request, "alerts/list.html", {
        "rows": rows, "state": state, "site": site, "states": FILTER_STATES,
        "stations": stations, "pushes": list(crowded.values()),
        "form": push_form(clock.now()),
        "open": sum(1 for r in rows if r["a"].state == State.OPEN.value)})


@console_view(*actions.HANDLERS)
def alert_detail(request: HttpRequest, pk: str) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    site_or_404(request.user, alert.site)  # before anything, on GET and POST alike
    if request.method == "POST":
        form = AckForm(request.POST)
        if not form.is_valid():
            messages.error(request, "备注不超过 500 字")
        else:
            try:
                actions.acknowledge(alert.pk, request.user, form.cleaned_data["remark"])
            except Refused as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"已知悉，记录人 {request.user.get_username()}")
        return redirect("alerts:detail", pk=alert.pk)
    return render(request, "alerts/detail.html", {
        "r": _row(alert, Names.load()), "ack": AckForm(label_suffix="："),
        "push": push_form(clock.now()), "data": sorted(alert.data_dict.items()),
        "record": [{"e": e, "label": Action(e.action).label} for e in alert.record.all()]})


@console_view(*actions.HANDLERS)
def alert_push(request: HttpRequest, pk: str) -> HttpResponse:
    alert = get_object_or_404(Alert, pk=pk)
    site_or_404(request.user, alert.site)  # another station's alert: 404 whatever the method
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    back = redirect("alerts:list") if request.POST.get("from") == "list" else \
        redirect("alerts:detail", pk=alert.pk)
    form = PushForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"公告未推送：请填写公告内容（不超过 {MAX_TEXT} 字）"
                       "和今天的结束时间")
        return back
    station = Names.load().station(alert.site)
    try:
        until = end_today(clock.now(), form.cleaned_data["until"])
        done = actions.push_notice(alert.pk, request.user, form.cleaned_data["text"], until,
                                   broker_options("kiosk-hq-console"))
    except (ValueError, ParseError) as exc:  # Refused, a past end, KIOSK_HQ_PORT unreadable
        messages.error(request, f"公告未推送：{exc}")
        return back
    if done.error:
        messages.error(request, f"{station}的延时服务公告未推送：{done.error}")
    else:
        messages.success(request, f"已推送到{station}的全部设备（各窗口、取号机、大厅屏），"
                         f"公告版本 {done.version}，显示至 {until:%H:%M}。")
    return back
