"""The report page in chromium: indicators by name, an ECharts chart served by the
console, CSV and Excel exports of the same table; a chief sees their station only."""

from __future__ import annotations

import csv
import io
from typing import Any

from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot
from tests.sync.test_hq_report import build_db

PERIOD = "start=2026-11-01&end=2026-11-07"


def _setup(console: Console) -> None:
    from hq.fleet.models import Officer, Station, Window

    a = console.alias
    if not Station.objects.using(a).filter(site="s1").exists():
        build_db(console.db_url)  # two windows' cases and ratings in early November
    Station.objects.using(a).get_or_create(site="s1", defaults={"name": "城关派出所"})
    Window.objects.using(a).get_or_create(site="s1", device="w01", defaults={"name": "1号窗口"})
    Window.objects.using(a).get_or_create(site="s1", device="w02", defaults={"name": "2号窗口"})
    Officer.objects.using(a).get_or_create(badge="000001", defaults={"name": "李明"})


def test_the_report_shows_the_indicators_a_chart_and_exports(console: Console,
                                                              browser_page: Any) -> None:
    _setup(console)
    page = browser_page
    login(page, console, "rep-sup", console.add_user("rep-sup", "supervisor"))
    page.click(".sections a.card:has-text('评价报表')")
    page.goto(console.url + f"/reports/?{PERIOD}&by=window")
    row = page.locator("table.report.rated tbody tr",
                       has_text="城关派出所 · 1号窗口")
    expect(row).to_be_visible()
    cells = row.locator("td").all_inner_texts()
    # w01 in the period: C1 very satisfied, C2 very unsatisfied, C3 not rated.
    assert cells[1:7] == ["3", "2", "50.0", "50.0", "33.3", "66.7"], cells
    # Its service: 2 mirror flags in 3 cases, a 15-minute away, a ticket called after
    # 10 minutes, one comment.
    service = page.locator("table.report.service tbody tr", has_text="城关派出所 · 1号窗口")
    assert service.locator("td").all_inner_texts()[1:] == [
        "2", "66.7", "1", "15.0", "1", "1", "10.0", "1"]
    expect(page.locator("#chart canvas")).to_have_count(1)  # ECharts drew it
    # Month over month: twelve months to November, March's old 差评 among them.
    expect(page.locator("#trend canvas")).to_have_count(1)
    trend = page.locator("table.report.trend tbody tr")
    expect(trend).to_have_count(12)
    assert trend.nth(11).locator("td").all_inner_texts()[:4] == ["2026年11月", "5", "40.0",
                                                                 "40.0"]
    assert trend.nth(3).locator("td").all_inner_texts()[:4] == ["2026年3月", "1", "0.0",
                                                                "100.0"]
    screenshot(page, "reports")
    screenshot(page, "reports")
    page.goto(console.url + f"/reports/?{PERIOD}&by=officer")
    expect(page.locator("table.report.rated")).to_contain_text("李明 000001")
    reply = page.request.get(console.url + f"/reports/?{PERIOD}&by=window&format=csv")
    text = reply.body().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][:4] == ["对象", "办结件数", "参评件数", "好评率%"]
    assert rows[2][:4] == ["城关派出所 · 1号窗口", "3", "2", "50.0"]
    from openpyxl import load_workbook

    xlsx = page.request.get(console.url + f"/reports/?{PERIOD}&by=window&format=xlsx")
    ws = load_workbook(io.BytesIO(xlsx.body())).active
    assert [c.value for c in ws[3]][:4] == ["城关派出所 · 1号窗口", 3, 2, 50.0]


def test_a_chief_reads_only_their_station(console: Console, browser_page: Any) -> None:
    _setup(console)
    page = browser_page
    login(page, console, "rep-chief", console.add_user("rep-chief", "chief", station="s7"))
    page.goto(console.url + f"/reports/?{PERIOD}")
    expect(page.locator("table.report.rated")).to_contain_text("这一时段没有评价记录")
    for fmt in ("", "&format=csv", "&format=xlsx"):
        reply = page.request.get(console.url + f"/reports/?{PERIOD}&site=s1{fmt}")
        assert reply.status == 404, fmt
    csv_all = page.request.get(console.url + f"/reports/?{PERIOD}&format=csv")
    assert "城关派出所" not in csv_all.body().decode("utf-8-sig")
