"""The station report (叫号与等候报表) and its CSV / Excel exports: the shared queue's
figures of the user's stations only, with the period and station form of the other
reports and their own dimensions (station, window number, service)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hq.accounts.roles import Role
from hq.accounts.scope import console_view
from hq.db import HqDb
from hq.names import Names
from hq.reports.doc_tables import export, page_context
from hq.reports.documents import Scope
from hq.reports.station import Per
from hq.reports.station_tables import EMPTY, sections
from hq.reports.views import ReportForm, filters

TITLE = "叫号与等候报表"


class StationForm(ReportForm):
    by = forms.ChoiceField(label="统计维度", choices=[(p.value, p.label) for p in Per],
                           initial=Per.WINDOW.value, required=False)

    def __init__(self, data: Any = None, **kwargs: Any) -> None:
        # Come from the evaluation report by officer: the station's events name no
        # officer, so by window, and the select says so (not an error on the page).
        if data is not None and data.get("by") not in {p.value for p in Per}:
            data = data.copy()
            data["by"] = Per.WINDOW.value
        super().__init__(data, **kwargs)


@console_view(Role.ADMIN, Role.SUPERVISOR, Role.CHIEF)
def station(request: HttpRequest) -> HttpResponse:
    form, start, end, by, site, sites = filters(request, StationForm)
    per = Per(by.value)
    names = Names.load()
    parts = sections(HqDb("default"), Scope(start, end, sites=sites), per, names)
    last = end - timedelta(days=1)
    title = f"{TITLE} {start.isoformat()} 至 {last.isoformat()}"
    exported = export(request, title, parts, "station")
    if exported is not None:
        return exported
    return render(request, "reports/station.html", {
        "form": form, "tables": parts if any(p.rows for p in parts) else [],
        "empty": EMPTY, "site": site, "per": per, "start": start, "last": last,
        **page_context(request, names)})
