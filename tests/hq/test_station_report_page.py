"""The station report (叫号与等候报表) on a real console in chromium: reached by links from
the evaluation report and back, a known day of two stations' shared queues by window
number, station and service with Chinese names, CSV and Excel exports of the same
tables; a chief of one station sees nothing of another's (404 for its code, on the page
and in the exports); a period without station events says what to do."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot
from tests.hq.station_support import BIRTH, PERIOD, RENEW, build

QUERY = f"start={PERIOD[0]}&end={PERIOD[1]}"
W2 = "城关派出所 · 2号窗口"
S2_ONLY = "东城派出所"
SHEETS = ["取号与叫号", "等候与办理时长", "各窗口各事项办理时长"]


@pytest.fixture(scope="module")
def queue(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from hq.fleet.models import Service, Station

    a = console.alias
    build(console.db_url, Path(tmp_path_factory.mktemp("stations")))
    Station.objects.using(a).create(site="s1", name="城关派出所")
    Station.objects.using(a).create(site="s2", name=S2_ONLY)
    Service.objects.using(a).create(code=RENEW, name="换领居民身份证", materials="居民身份证")
    Service.objects.using(a).create(code=BIRTH, name="出生登记", materials="出生医学证明")
    yield console


def _cells(page: Any, table: str, row: str) -> list[str]:
    found = page.locator(f"table.report.{table} tbody tr", has_text=row)
    expect(found).to_have_count(1)
    return list(found.first.locator("td").all_inner_texts())


def _blocks(body: bytes) -> dict[str, list[list[str]]]:
    """A CSV export's sections: a blank line, the name, the head and the rows."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    out: dict[str, list[list[str]]] = {}
    for i, r in enumerate(rows):
        if r == [] and i + 1 < len(rows):
            end = next((j for j in range(i + 2, len(rows)) if rows[j] == []), len(rows))
            out[rows[i + 1][0]] = rows[i + 2:end]
    return out


def test_the_station_report_from_the_reports_index(queue: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, queue, "st-sup", queue.add_user("st-sup", "supervisor"))
    page.click("header.top nav a:has-text('评价报表')")
    page.fill("#id_start", PERIOD[0])
    page.fill("#id_end", PERIOD[1])
    page.click("form.inline button[type=submit]")
    page.click("a:has-text('叫号与等候报表')")
    expect(page.locator("h1")).to_have_text("叫号与等候报表")
    assert f"start={PERIOD[0]}" in page.url  # the period carried over
    expect(page.locator("#id_by")).to_have_value("window")
    head = page.locator("table.report.tickets thead th").all_inner_texts()
    # By window: no 取号 (a ticket is issued for a service, not a window).
    assert head == ["窗口", "叫号", "办结", "过号", "其中重新排队", "其中作废", "转其他事项",
                    "转其他窗口", "重新呼叫"]
    assert _cells(page, "tickets", W2)[1:] == ["5", "2", "2", "1", "1", "1", "0", "1"]
    assert _cells(page, "tickets", "城关派出所 · 1号窗口")[1:] == [
        "2", "1", "0", "0", "0", "0", "1", "0"]
    assert _cells(page, "tickets", "合计")[1:] == ["17", "13", "2", "1", "1", "1", "1", "1"]
    # Waits 240, 660, 1200, 1200, 1380 s at window 2; cases of 420 and 240 s.
    assert _cells(page, "waits", W2)[1:] == ["5", "15.6", "23.0", "23.0", "2", "5.5", "7.0"]
    assert _cells(page, "waits", "东城派出所 · 1号窗口")[1:] == [
        "10", "5.5", "10.0", "9.0", "10", "2.0", "2.0"]
    assert _cells(page, "times", W2) == [W2, "出生登记", "2", "5.5", "7.0"]
    page.screenshot(path="/tmp/reports-station.png", full_page=True)
    screenshot(page, "reports-station")
    page.select_option("#id_by", "station")
    page.click("form.inline button[type=submit]")
    # Four station tickets and E001 from the entrance's own block.
    assert _cells(page, "tickets", "城关派出所")[1:] == [
        "5", "1", "7", "3", "2", "1", "1", "1", "1", "1"]
    page.select_option("#id_by", "service")
    page.click("form.inline button[type=submit]")
    assert _cells(page, "tickets", "出生登记")[1:] == ["3", "1", "4", "2", "2", "1", "1"]
    page.click("a:has-text('文书与叫号报表')")  # its neighbour, and back from there
    expect(page.locator("h1")).to_have_text("文书与叫号报表")
    page.click("a:has-text('叫号与等候报表')")
    expect(page.locator("h1")).to_have_text("叫号与等候报表")
    page.click("a:has-text('返回评价报表')")
    expect(page.locator("h1")).to_have_text("评价报表")
    assert f"start={PERIOD[0]}" in page.url


def test_the_exports_hold_the_same_tables(queue: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, queue, "st-admin", queue.add_user("st-admin", "admin"))
    reply = page.request.get(queue.url + f"/reports/station/?{QUERY}&by=window&format=csv")
    assert reply.status == 200
    assert reply.body().decode("utf-8-sig").splitlines()[0] == (
        f"叫号与等候报表 {PERIOD[0]} 至 {PERIOD[1]}")
    blocks = _blocks(reply.body())
    assert list(blocks) == SHEETS
    assert {r[0]: r[1:] for r in blocks["取号与叫号"][1:]}[W2] == [
        "5", "2", "2", "1", "1", "1", "0", "1"]
    assert blocks["各窗口各事项办理时长"][1:] == [
        ["城关派出所 · 1号窗口", "换领居民身份证", "1", "5.0", "5.0"],
        [W2, "出生登记", "2", "5.5", "7.0"],
        ["东城派出所 · 1号窗口", "换领居民身份证", "10", "2.0", "2.0"]]
    from openpyxl import load_workbook

    xlsx = page.request.get(queue.url + f"/reports/station/?{QUERY}&by=window&format=xlsx")
    book = load_workbook(io.BytesIO(xlsx.body()))
    assert book.sheetnames == SHEETS
    waits = [[c.value for c in r] for r in book["等候与办理时长"].iter_rows(min_row=2)]
    assert waits[0] == ["窗口", "叫号", "平均等候分钟", "最长等候分钟", "90%等候分钟", "办结",
                        "平均办理分钟", "最长办理分钟"]
    assert [W2, 5, 15.6, 23.0, 23.0, 2, 5.5, 7.0] in waits  # figures, not text
    by_station = [[c.value for c in r] for r in load_workbook(io.BytesIO(page.request.get(
        queue.url + f"/reports/station/?{QUERY}&by=station&format=xlsx").body()))[
            "取号与叫号"].iter_rows(min_row=3)]
    assert ["城关派出所", 5, 1, 7, 3, 2, 1, 1, 1, 1, 1] in by_station
    editor = page.context.browser.new_context()  # a role the report is not for
    try:
        other = editor.new_page()
        login(other, queue, "st-editor", queue.add_user("st-editor", "editor"))
        assert other.request.get(queue.url + "/reports/station/").status == 403
    finally:
        editor.close()


def test_a_chief_sees_only_their_station(queue: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, queue, "st-chief", queue.add_user("st-chief", "chief", station="s1"))
    page.goto(queue.url + f"/reports/station/?{QUERY}&by=station")
    assert _cells(page, "waits", "城关派出所")[1] == "7"
    assert S2_ONLY not in page.locator("main").inner_text()
    for fmt in ("", "&format=csv", "&format=xlsx"):
        reply = page.request.get(queue.url + f"/reports/station/?{QUERY}&site=s2{fmt}")
        assert reply.status == 404, fmt
    body = page.request.get(queue.url + f"/reports/station/?{QUERY}&by=window&format=csv")
    text = body.body().decode("utf-8-sig")
    assert W2 in text and S2_ONLY not in text
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(page.request.get(
        queue.url + f"/reports/station/?{QUERY}&format=xlsx").body()))
    cells = {str(c.value) for ws in book for r in ws.iter_rows() for c in r}
    assert not [c for c in cells if S2_ONLY in c]


def test_a_period_without_station_events_says_what_to_do(queue: Console,
                                                          browser_page: Any) -> None:
    page = browser_page
    login(page, queue, "st-sup2", queue.add_user("st-sup2", "supervisor"))
    # From the evaluation report by officer: the station's events name none: by window.
    page.goto(queue.url + "/reports/station/?start=2026-10-01&end=2026-10-31&by=officer")
    expect(page.locator("#id_by")).to_have_value("window")
    expect(page.locator("main")).to_contain_text(
        "本期没有叫号系统的数据（站点未启用共享队列，或事件尚未上传）")
    expect(page.locator("table.report")).to_have_count(0)
    expect(page.locator("a:has-text('导出 CSV')")).to_have_count(0)
