"""Station alerts in chromium: the real station service's alerts ingested into a real
console; a chief follows the landing page's line to the list, acknowledges the crowded
hall's alert and pushes the extended-hours notice, which a real Mosquitto then holds as
the station's retained notices document."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from device.events import Draft, EventType
from device.store import Store
from hq.alerts.notice import default_text, default_until
from tests.hq.console import Console, login, screenshot
from tests.hq.test_alerts import AWAY_TEXT, CROWD_TEXT, ZONE, station_journal
from tests.hq.test_results_push import retained
from tests.sync.conftest import Mosquitto

pytestmark = pytest.mark.broker


def _window_booted(tmp_path: Path) -> list[tuple[dict[str, Any], bool]]:
    """Window w01 of s1 as a counter's store journals its start."""
    counter = Store(tmp_path / "w01.db", site="s1", device="w01")
    try:
        counter.append([Draft(EventType.DEVICE_BOOT, {})])
        return [(dict(ev), False) for ev in counter.events()]
    finally:
        counter.close()


def _console_now(journal: list[tuple[dict[str, Any], bool]]) -> datetime:
    """The console's clock for the test: a minute after the station's events (stamped by
    the real clock, as a station does), so the pages read in order; at most 23:00 that
    day, so the default end of the notice is still later today."""
    ts = max(datetime.fromisoformat(ev["ts"]) for ev, _r in journal).astimezone(ZONE)
    at = (ts + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return min(at, ts.replace(hour=23, minute=0, second=0, microsecond=0))


def test_a_chief_acknowledges_and_pushes_the_extended_hours_notice(
        console: Console, broker: Mosquitto, tmp_path: Path, browser_page: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from hq.fleet.models import Station, Window

    journal = station_journal(tmp_path)
    now = _console_now(journal)
    until = default_until(now)
    text, hhmm, version = default_text(until), f"{until:%H:%M}", f"{now:%Y%m%d}.1"
    monkeypatch.setenv("KIOSK_HQ_NOW", now.isoformat())  # the collector's (this process)
    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": now.isoformat()})
    Station.objects.using(console.alias).get_or_create(site="s1",
                                                       defaults={"name": "城关派出所"})
    Window.objects.using(console.alias).get_or_create(site="s1", device="w01",
                                                      defaults={"name": "1号窗口"})
    console.store.ingest(journal)
    console.store.ingest(_window_booted(tmp_path))  # so the wall has s1's window to show
    page = browser_page
    login(page, console, "chief-b", console.add_user("chief-b", "chief", station="s1"))
    expect(page.locator(".alerts-line")).to_contain_text("站点告警：2 条未处理")
    page.click(".alerts-line a")
    rows = page.locator("table.alerts tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(CROWD_TEXT)  # newest first: recorded after the away
    expect(rows.nth(1)).to_contain_text(AWAY_TEXT)
    expect(rows.nth(0)).to_contain_text("城关派出所")
    rows.nth(0).locator("a").click()
    expect(page.locator("h1")).to_contain_text("候办人数过多")
    expect(page.locator("h1 .badge")).to_have_text("未处理")
    page.fill("form.ack textarea[name=remark]", "已增开 3号窗口")
    page.click("form.ack button")
    expect(page.locator(".messages")).to_contain_text("已知悉，记录人 chief-b")
    expect(page.locator("h1 .badge")).to_have_text("已知悉")
    expect(page.locator("td.acknowledged")).to_contain_text(
        f"chief-b，{now.year}年{now.month}月{now.day}日 {now:%H:%M}：已增开 3号窗口")
    expect(page.locator("form.push textarea[name=text]")).to_have_value(text)
    expect(page.locator("form.push input[name=until]")).to_have_value(hhmm)
    page.click("form.push button")
    expect(page.locator(".messages .success")).to_have_text(
        f"已推送到城关派出所的全部设备（各窗口、取号机、大厅屏），公告版本 {version}，"
        f"显示至 {hhmm}。")
    record = page.locator("table.record tbody tr")
    expect(record).to_have_count(3)
    expect(record.nth(1)).to_contain_text("chief-b")
    expect(record.nth(2)).to_contain_text("推送延时服务公告")
    expect(record.nth(2)).to_contain_text(f"公告版本 {version}")
    screenshot(page, "alert-detail")
    doc = json.loads(retained(broker.port, "kiosk/v1/s1/notices"))
    assert [(n["text"], n["level"]) for n in doc["notices"]] == [(text, "urgent")]
    assert doc["version"] == version
    page.click("text=← 返回告警列表")
    expect(page.locator("[data-push-site=s1] textarea[name=text]")).to_have_value(text)
    screenshot(page, "alerts")
    page.click("text=← 返回首页")
    expect(page.locator(".alerts-line")).to_contain_text("站点告警：1 条未处理")
    page.goto(console.url + "/live/")  # the wall's station heading says so too
    expect(page.locator("[data-site=s1]")).to_contain_text("1号窗口")
    page.click("[data-site=s1] a.alerts-badge:has-text('1 条未处理告警')")
    expect(page.locator("table.alerts tbody tr")).to_have_count(1)
    expect(page.locator("table.alerts tbody tr")).to_contain_text(AWAY_TEXT)
