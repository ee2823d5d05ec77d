"""The work-order pages: the list and one order with its audit log and its next step."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import console_view, scoped, site_or_404, visible_sites
from hq.holidays.calendar import work_calendar
from hq.lifecycle import AWAITS, Action, Finding, Refused, State
from hq.names import Names
from hq.workorders import actions
from hq.workorders.models import DeadlineSettings, WorkOrder

HANDLERS = (Role.ADMIN, Role.SUPERVISOR, Role.CHIEF)
AUDIT_LABELS = {"opened": "生成工单", "escalated": "逾期上报", "phone_deleted": "删除回访电话",
                **{a.value: a.label for a in Action}}


class StepForm(forms.Form):
    note = forms.CharField(label="说明", widget=forms.Textarea, max_length=2000)
    finding = forms.ChoiceField(label="核实结论", required=False,
                                choices=[("", "请选择")] + [(f.value, f.label) for f in Finding])
    upheld = forms.ChoiceField(label="复核决定", required=False,
                               choices=[("", "请选择"), ("yes", "维持原结论（办结）"),
                                        ("no", "驳回，按有效差评整改")])


def _row(order: WorkOrder, names: Names, settings: DeadlineSettings, cal: Any,
         now: Any) -> dict[str, Any]:
    d = actions.due(order, settings, cal)
    return {"o": order, "station": names.station(order.site),
            "window": names.window(order.site, order.device),
            "officer": names.officer(order.officer), "service": names.service(order.service),
            "level": _level(order.level), "state": order.state_enum.label, "due": d,
            "overdue": d.overdue(now)}


def _level(level: str) -> str:
    from device.rating import RatingLevel

    try:
        return RatingLevel(level).label
    except ValueError:
        return level


def _context() -> tuple[Names, DeadlineSettings, Any, Any]:
    return Names.load(), DeadlineSettings.current(), work_calendar(), clock.now()


@console_view(*HANDLERS)
def order_list(request: HttpRequest) -> HttpResponse:
    qs = scoped(WorkOrder.objects.all(), request.user).order_by("-event_ts")
    state = request.GET.get("state", "open")
    if state == "open":
        qs = qs.exclude(state=State.CLOSED.value)
    elif state in {s.value for s in State}:
        qs = qs.filter(state=state)
    site = request.GET.get("site", "")
    if site:
        site_or_404(request.user, site)
        qs = qs.filter(site=site)
    names, settings, cal, now = _context()
    rows = [_row(o, names, settings, cal, now) for o in qs[:500]]
    if request.GET.get("overdue") == "1":
        rows = [r for r in rows if r["overdue"]]
    sites = visible_sites(request.user)
    stations = sorted(((s, names.station(s)) for s in (
        sites if sites is not None else set(WorkOrder.objects.values_list("site", flat=True)))),
        key=lambda p: p[1])
    return render(request, "workorders/list.html", {
        "rows": rows, "state": state, "site": site, "overdue": request.GET.get("overdue") == "1",
        "states": [(s.value, s.label) for s in State], "stations": stations,
        "escalated": sum(1 for r in rows if r["o"].escalated_at)})


@console_view(*HANDLERS)
def order_detail(request: HttpRequest, pk: str) -> HttpResponse:
    order = get_object_or_404(WorkOrder, pk=pk)
    site_or_404(request.user, order.site)
    names, settings, cal, now = _context()
    if request.method == "POST":
        return _act(request, order)
    nxt = AWAITS.get(order.state_enum)
    return render(request, "workorders/detail.html", {
        "r": _row(order, names, settings, cal, now),
        "phone": order.phone if actions.sees_phone(request.user, order) else order.masked_phone,
        "audit": [{"e": e, "label": AUDIT_LABELS.get(e.action, e.action),
                   "to": State(e.to_state).label if e.to_state else ""}
                  for e in order.audit.all()],
        "next": nxt, "may_act": nxt is not None and actions.may_act(request.user, order, nxt),
        "form": StepForm(label_suffix="："),
        "finding_label": Finding(order.finding).label if order.finding else ""})


def _act(request: HttpRequest, order: WorkOrder) -> HttpResponse:
    form = StepForm(request.POST)
    try:
        action = Action(request.POST.get("action", ""))
    except ValueError:
        messages.error(request, "未知的操作，请从页面上的按钮提交")
        return redirect("workorders:detail", pk=order.pk)
    if not form.is_valid():
        messages.error(request, "请填写说明（不超过 2000 字）")
        return redirect("workorders:detail", pk=order.pk)
    finding = Finding(form.cleaned_data["finding"]) if form.cleaned_data["finding"] else None
    upheld = {"yes": True, "no": False}.get(form.cleaned_data["upheld"])
    try:
        done = actions.perform(order.pk, request.user, action, form.cleaned_data["note"],
                               finding=finding, upheld=upheld)
    except Refused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"已{action.label}，工单现为「{done.state_enum.label}」")
    return redirect("workorders:detail", pk=order.pk)
