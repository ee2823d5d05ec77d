"""The document report (文书与叫号报表) and its CSV / Excel exports: the user's stations only,
the same period and dimension form as the evaluation report."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from hq import clock
from hq.accounts.roles import Role
from hq.accounts.scope import console_view
from hq.db import HqDb
from hq.names import Names
from hq.reports.doc_tables import export, page_context, sections
from hq.reports.documents import Scope
from hq.reports.views import filters


@console_view(Role.ADMIN, Role.SUPERVISOR, Role.CHIEF)
def documents(request: HttpRequest) -> HttpResponse:
    form, start, end, by, site, sites = filters(request)
    names = Names.load()
    parts = sections(HqDb("default"), Scope(start, end, sites=sites), by, names,
                     clock.now().date())
    last = end - timedelta(days=1)
    title = f"文书与叫号报表 {start.isoformat()} 至 {last.isoformat()}"
    exported = export(request, title, parts, "documents")
    if exported is not None:
        return exported
    return render(request, "reports/documents.html", {
        "form": form, "tables": parts[:3], "ranks": parts[3:-1], "moved": parts[-1],
        "site": site, "by": by, "start": start, "last": last, **page_context(request, names)})
