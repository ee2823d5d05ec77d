"""The report page and its CSV / Excel exports: the same table, the user's stations only."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import console_view, site_or_404, visible_sites
from hq.db import HqDb
from hq.names import Names
from hq.reports.queries import By, Row, indicators, monthly

HEAD = ["对象", "办结件数", "参评件数", "好评率%", "差评率%", "未评价率%", "主动评价率%",
        "差评工单", "已回访", "已办结", "按时办结率%",
        "镜像确认异议", "每百件异议", "暂离次数", "暂离分钟", "取号", "叫号", "平均等候分钟",
        "群众意见"]
RATED = 11  # the page shows the first columns (评价, 差评处理) and the rest (窗口服务) apart


class ReportForm(forms.Form):
    start = forms.DateField(label="开始日期", required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="结束日期（含）", required=False,
                          widget=forms.DateInput(attrs={"type": "date"}))
    site = forms.CharField(label="派出所", required=False)
    by = forms.ChoiceField(label="统计维度", choices=[(b.value, b.label) for b in By],
                           initial=By.WINDOW.value, required=False)

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # A page opened without a dimension counts by window: the select must say so too
        # (a bound form shows what was sent, not ``initial``; it showed 派出所).
        if data is not None and not data.get("by"):
            data = data.copy()
            data["by"] = By.WINDOW.value
        super().__init__(data, **kwargs)


def _period(form: ReportForm) -> tuple[date, date]:
    today = clock.now().date()
    start = form.cleaned_data.get("start") or today.replace(day=1)
    last = form.cleaned_data.get("end") or today
    return start, max(last, start) + timedelta(days=1)


def filters(request: HttpRequest, form_class: type[ReportForm] = ReportForm
            ) -> tuple[ReportForm, date, date, By, str, frozenset[str] | None]:
    """A report page's form and what it asks for: the period [start, end), the dimension,
    the one station asked for ("" for all) and the stations this user may see of them
    (None: every station). Another station's code is 404 before any figure is read.
    ``form_class``: a report with fewer dimensions offers only those (its ``by``)."""
    form = form_class(request.GET, label_suffix="：")
    form.is_valid()  # a field that fails falls back to its default; the form shows why
    start, end = _period(form)
    by = By(form.cleaned_data.get("by") or By.WINDOW.value)
    sites = visible_sites(request.user)
    site = form.cleaned_data.get("site") or ""
    if site:
        site_or_404(request.user, site)
        sites = frozenset({site})
    return form, start, end, by, site, sites


def _label(row: Row, by: By, names: Names) -> str:
    if by is By.STATION:
        return names.station(row.key[0])
    if by is By.WINDOW:
        return f"{names.station(row.key[0])} · {names.window(*row.key)}"
    if by is By.OFFICER:
        return names.officer(row.key[0])
    return names.service(row.key[0])


def _cells(row: Row) -> list[Any]:
    def pct(v: float | None) -> Any:
        return "" if v is None else v

    return [row.cases, row.rated, pct(row.good_rate), pct(row.bad_rate),
            pct(row.unrated_rate), pct(row.active_rate), row.orders, row.visited, row.closed,
            pct(row.on_time_rate), row.mirror_flags, pct(row.flags_per_case), row.aways,
            row.away_min, row.tickets, row.called, pct(row.avg_wait_min), row.comments]


@console_view(Role.ADMIN, Role.SUPERVISOR, Role.CHIEF)
def report(request: HttpRequest) -> HttpResponse:
    form, start, end, by, site, sites = filters(request)
    rows = indicators(HqDb("default"), start, end, sites=sites, by=by)
    names = Names.load()
    table = [[_label(r, by, names), *_cells(r)] for r in rows]
    fmt = request.GET.get("format", "")
    title = f"评价报表 {start.isoformat()} 至 {(end - timedelta(days=1)).isoformat()}"
    if fmt == "csv":
        return _csv(title, table)
    if fmt == "xlsx":
        return _xlsx(title, table)
    stations = sorted(((s, names.station(s)) for s in (
        visible_sites(request.user) or names.stations.keys())), key=lambda p: p[1])
    chart = {"labels": [t[0] for t in table], "good": [r.good_rate or 0 for r in rows],
             "bad": [r.bad_rate or 0 for r in rows]}
    months = monthly(HqDb("default"), end - timedelta(days=1), sites=sites)
    labels = [_month_label(r.key[0]) for r in months]
    trend = {"labels": labels,
             "good": [r.good_rate for r in months], "bad": [r.bad_rate for r in months],
             "rated": [r.rated for r in months]}
    query = request.GET.copy()
    query.pop("format", None)
    return render(request, "reports/index.html", {
        "form": form, "head": HEAD[:RATED], "table": [t[:RATED] for t in table],
        "service_head": [HEAD[0], *HEAD[RATED:]],
        "service_table": [[t[0], *t[RATED:]] for t in table], "title": title, "chart": chart,
        "trend": trend, "trend_rows": list(zip(labels, months, strict=True)),
        "stations": stations, "site": site, "by": by, "query": query.urlencode(),
        "start": start, "last": end - timedelta(days=1)})


def _month_label(month: str) -> str:
    y, m = month.split("-")
    return f"{y}年{int(m)}月"


def _csv(title: str, table: list[list[Any]]) -> HttpResponse:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([title])
    w.writerow(HEAD)
    w.writerows(table)
    # UTF-8 with a BOM: Excel on a police office PC opens it as Chinese, not mojibake.
    reply = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
    reply["Content-Disposition"] = 'attachment; filename="report.csv"'
    return reply


def _xlsx(title: str, table: list[list[Any]]) -> HttpResponse:
    from hq.reports.doc_tables import Section, xlsx_reply

    return xlsx_reply(title, [Section("评价报表", HEAD, table)], "report")
