"""The document report (文书与叫号报表) in chromium on a real console: reached from the
evaluation report and back, the figures of a known week by window, its rankings and
moved receipts, CSV and Excel exports of the same sections; a chief of one station sees
nothing of another's, on the page or in an export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot
from tests.hq.documents_support import MISSING, NOT_OURS, NOW, PERIOD, build

QUERY = f"start={PERIOD[0]}&end={PERIOD[1]}"
W01 = "城关派出所 · 1号窗口"
S2_ONLY = ("东城派出所", "只在二所", "二所才有的去向")


@pytest.fixture(scope="module")
def docs(console: Console) -> Iterator[Console]:
    from hq.fleet.models import Service, Station, Window

    a = console.alias
    build(console.db_url)
    Station.objects.using(a).create(site="s1", name="城关派出所")
    Station.objects.using(a).create(site="s2", name="东城派出所")
    for site, device, name in (("s1", "w01", "1号窗口"), ("s1", "w02", "2号窗口"),
                               ("s2", "w01", "1号窗口")):
        Window.objects.using(a).create(site=site, device=device, name=name)
    Service.objects.using(a).create(code="hukou", name="户口迁移", materials="户口簿")
    Service.objects.using(a).create(code="id_card.first", name="首次申领居民身份证",
                                    materials="户口簿")
    # The console's clock after the week: C8's handover date is past, C9's is not.
    console.restart({"KIOSK_HQ_NOW": NOW})
    yield console


def _cells(page: Any, table: str, row: str) -> list[str]:
    found = page.locator(f"table.report.{table} tbody tr", has_text=row)
    expect(found).to_have_count(1)
    return list(found.first.locator("td").all_inner_texts())


def test_the_document_report_shows_a_windows_week(docs: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, docs, "doc-sup", docs.add_user("doc-sup", "supervisor"))
    page.goto(docs.url + f"/reports/?{QUERY}&by=window")
    page.click("a:has-text('文书与叫号报表')")  # the evaluation report links to it
    expect(page.locator("h1")).to_have_text("文书与叫号报表")
    assert f"start={PERIOD[0]}" in page.url  # the same period carried over
    head = page.locator("table.report.docs thead th").all_inner_texts()
    assert head == ["窗口", "补正材料告知", "不予受理", "受理回执", "转办", "户口代办",
                    "上门服务", "其他（certificate）", "出具合计"]
    assert _cells(page, "docs", W01)[1:] == ["1", "3", "2", "1", "3", "3", "1", "14"]
    # Three counters' documents: s1's two windows and s2's refusal and referral.
    assert _cells(page, "docs", "合计")[1:] == ["1", "5", "3", "2", "3", "3", "1", "18"]
    # C14 shown and corrected away; C5's promise moved twice.
    assert _cells(page, "flow", W01)[1:] == ["14", "1", "6.7", "2", "1"]
    # Calls: A001 in order, A002 by number first in line, A005 past two waiting.
    assert _cells(page, "queue", W01)[1:] == ["3", "1", "2", "2", "1", "1", "1", "0"]
    # Window 2 took up C8's after-hours intake: not a citizen's call.
    assert _cells(page, "queue", "城关派出所 · 2号窗口")[1:] == ["0"] * 7 + ["1"]
    ranks = page.locator(".ranks section")
    refusals = ranks.filter(has_text="不予受理理由").locator("tbody tr")
    assert refusals.nth(0).locator("td").all_inner_texts() == [NOT_OURS, "3"]
    visits = ranks.filter(has_text="上门服务对象").locator("tbody tr")
    assert [visits.nth(i).locator("td").all_inner_texts() for i in range(2)] == [
        ["老年人", "2"], ["残疾人", "1"]]
    intake = ranks.filter(has_text="户口代办移交").locator("tbody tr")
    # C8 handed on and taken up, C9's day past (the console's clock), C18's to come.
    assert [intake.nth(i).locator("td").all_inner_texts() for i in range(5)] == [
        ["代办受理", "3"], ["已移交", "3"], ["已办理", "1"], ["待办理", "1"],
        ["逾期未办理", "1"]]
    moved = _cells(page, "moved", "C5")
    assert moved[:3] == ["C5", W01, "首次申领居民身份证"]
    assert moved[4:] == ["2026-11-20", "2", "2026-12-01", "系统故障"]
    page.screenshot(path="/tmp/document_report.png", full_page=True)
    screenshot(page, "document_report")
    page.click("a:has-text('返回评价报表')")  # and back, with the period
    expect(page.locator("h1")).to_have_text("评价报表")
    assert f"start={PERIOD[0]}" in page.url


def test_the_exports_hold_the_same_sections(docs: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, docs, "doc-sup2", docs.add_user("doc-sup2", "supervisor"))
    reply = page.request.get(docs.url + f"/reports/documents/?{QUERY}&by=window&format=csv")
    assert reply.status == 200
    rows = list(csv.reader(io.StringIO(reply.body().decode("utf-8-sig"))))
    assert rows[0] == [f"文书与叫号报表 {PERIOD[0]} 至 {PERIOD[1]}"]
    blocks: dict[str, list[list[str]]] = {}
    for i, r in enumerate(rows):
        if r == [] and i + 1 < len(rows):
            name = rows[i + 1][0]
            end = next((j for j in range(i + 2, len(rows)) if rows[j] == []), len(rows))
            blocks[name] = rows[i + 2:end]
    assert list(blocks) == ["文书出具", "撤回与承诺变更", "叫号控制", "不予受理理由",
                            "转办去向", "上门服务对象", "承诺变更原因", "户口代办移交",
                            "承诺日期变更的受理回执"]
    docs_rows = {r[0]: r[1:] for r in blocks["文书出具"][1:]}
    assert docs_rows[W01] == ["1", "3", "2", "1", "3", "3", "1", "14"]
    assert blocks["不予受理理由"][1:] == [[NOT_OURS, "3"], ["只在二所", "1"], [MISSING, "1"]]
    assert blocks["户口代办移交"][1:] == [["代办受理", "3"], ["已移交", "3"], ["已办理", "1"],
                                        ["待办理", "1"], ["逾期未办理", "1"]]
    assert [r[0] for r in blocks["承诺日期变更的受理回执"][1:]] == ["C5"]
    from openpyxl import load_workbook

    xlsx = page.request.get(docs.url + f"/reports/documents/?{QUERY}&by=window&format=xlsx")
    book = load_workbook(io.BytesIO(xlsx.body()))
    assert book.sheetnames == list(blocks)
    queue = [[c.value for c in r] for r in book["叫号控制"].iter_rows(min_row=3)]
    assert [W01, 3, 1, 2, 2, 1, 1, 1, 0] in queue
    # The other dimensions: by service the promise changes go with C5's receipt; the
    # queue controls stay per window (by station, per station).
    by_service = list(csv.reader(io.StringIO(page.request.get(
        docs.url + f"/reports/documents/?{QUERY}&by=service&format=csv").body().decode(
            "utf-8-sig"))))
    assert ["首次申领居民身份证", "2", "0", "0.0", "2", "1"] in by_service  # 撤回与承诺变更
    assert [W01, "3", "1", "2", "2", "1", "1", "1", "0"] in by_service
    page.goto(docs.url + f"/reports/documents/?{QUERY}&by=station")
    assert _cells(page, "queue", "东城派出所")[1:] == ["0", "0", "1", "0", "0", "0", "0", "0"]
    page.goto(docs.url + f"/reports/documents/?{QUERY}&by=officer")
    expect(page.locator("table.report.docs thead th").first).to_have_text("民警")


def test_a_chief_sees_only_their_station(docs: Console, browser_page: Any) -> None:
    page = browser_page
    login(page, docs, "doc-chief", docs.add_user("doc-chief", "chief", station="s1"))
    page.goto(docs.url + f"/reports/documents/?{QUERY}")  # no dimension: by window
    expect(page.locator("#id_by")).to_have_value("window")  # and the form says so
    assert _cells(page, "docs", W01)[-1] == "14"
    text = page.locator("main").inner_text()
    assert not [s for s in S2_ONLY if s in text], text
    for fmt in ("", "&format=csv", "&format=xlsx"):
        reply = page.request.get(docs.url + f"/reports/documents/?{QUERY}&site=s2{fmt}")
        assert reply.status == 404, fmt
    exported = page.request.get(docs.url + f"/reports/documents/?{QUERY}&format=csv")
    body = exported.body().decode("utf-8-sig")
    assert "城关派出所" in body and not [s for s in S2_ONLY if s in body]
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(page.request.get(
        docs.url + f"/reports/documents/?{QUERY}&format=xlsx").body()))
    cells = {str(c.value) for ws in book for r in ws.iter_rows() for c in r}
    assert not [s for s in S2_ONLY if any(s in c for c in cells)]
