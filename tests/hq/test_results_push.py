"""The derived site content in the console, over a real Mosquitto: a supervisor publishing
a month on /public/ sends it to the station's counters as kind ``results``; with the
broker down the month stays published and the page says the push failed; an editor
publishes the holiday calendar from /content/ like any other kind."""

from __future__ import annotations

import json
import queue
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import expect

from sync.downlink import parse_content
from tests.hq.console import Console, login
from tests.hq.test_reports import _setup
from tests.sync.conftest import Mosquitto, free_port

pytestmark = pytest.mark.broker
NOW = "2026-12-02T10:00:00+08:00"


def retained(port: int, topic: str) -> bytes:
    """The retained message on ``topic`` as a new subscriber gets it (a counter coming
    online after the publication)."""
    got: queue.Queue[bytes] = queue.Queue()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-reader")
    client.on_connect = lambda c, _u, _f, _rc, _p: c.subscribe(topic, qos=1)
    client.on_message = lambda _c, _u, msg: got.put(msg.payload) if msg.retain else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return got.get(timeout=10)
    finally:
        client.disconnect()
        client.loop_stop()


def _publish_month(page: Any, console: Console, month: str) -> None:
    page.goto(console.url + "/public/")
    page.select_option("#p-site", label="城关派出所")
    page.fill("#p-month", month)
    page.click("form button.primary")
    expect(page.locator(".messages")).to_contain_text(f"已公布城关派出所 {month}")


def test_publishing_a_month_sends_it_to_the_stations_counters(
        console: Console, broker: Mosquitto, browser_page: Any) -> None:
    from hq.publish.models import ContentVersion

    _setup(console)  # November 2026 at 城关派出所 (s1), two windows
    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": NOW})
    page = browser_page
    login(page, console, "res-sup", console.add_user("res-sup", "supervisor"))
    _publish_month(page, console, "2026-11")
    expect(page.locator(".messages .success").last).to_have_text(
        "已推送到城关派出所的窗口设备，版本 20261202.1。")
    expect(page.locator(".messages .error")).to_have_count(0)
    doc = parse_content("results", retained(broker.port, "kiosk/v1/s1/results"))
    assert doc["version"] == "20261202.1" and doc["month"] == "2026-11"
    assert doc["station"]["name"] == "城关派出所"
    assert doc["station"]["good_rate"] == 40.0 and doc["station"]["bad_total"] == 2
    assert [(w["device"], w["name"]) for w in doc["windows"]] == [("w01", "1号窗口"),
                                                                    ("w02", "2号窗口")]
    row = ContentVersion.objects.using(console.alias).get(site="s1", kind="results")
    assert json.loads(row.document) == doc and row.published_by == "res-sup"


def test_with_the_broker_down_the_month_is_published_and_the_page_says_so(
        console: Console, browser_page: Any) -> None:
    from hq.publish.models import ContentVersion
    from hq.reports.models import PublishedMonth

    _setup(console)
    closed = free_port()  # nothing listens there
    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(closed),
                         "KIOSK_HQ_NOW": NOW})
    before = ContentVersion.objects.using(console.alias).filter(kind="results").count()
    page = browser_page
    login(page, console, "res-sup2", console.add_user("res-sup2", "supervisor"))
    _publish_month(page, console, "2026-10")
    error = page.locator(".messages .error")
    expect(error).to_contain_text("评价结果已公布，但未能推送到城关派出所的窗口设备：无法连接消息服务器")
    expect(error).to_contain_text(f"cannot reach the broker at 127.0.0.1:{closed}")
    expect(error).to_contain_text("在“内容发布”页点击“发布评价结果”重新推送")
    assert PublishedMonth.objects.using(console.alias).filter(site="s1",
                                                              month="2026-10").exists()
    expect(page.locator("article.notice")).to_contain_text("2026-10")  # public all the same
    assert ContentVersion.objects.using(console.alias).filter(kind="results").count() == before


def test_an_editor_publishes_the_holiday_calendar_from_the_content_page(
        console: Console, broker: Mosquitto, browser_page: Any) -> None:
    from hq.fleet.models import Station
    from hq.holidays.models import HolidayYear

    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": NOW})
    Station.objects.using(console.alias).get_or_create(site="s1",
                                                       defaults={"name": "城关派出所"})
    HolidayYear.objects.using(console.alias).update_or_create(year=2027, defaults={
        "holidays": json.dumps(["2027-01-01", "2027-02-10"]),
        "workdays": json.dumps(["2027-02-06"])})
    page = browser_page
    login(page, console, "cal-editor", console.add_user("cal-editor", "editor"))
    page.goto(console.url + "/content/")
    page.click("[data-site=s1] tr[data-kind=holidays] button")
    expect(page.locator(".messages")).to_contain_text(
        "城关派出所 的节假日安排已发布，版本 20261202.1")
    doc = parse_content("holidays", retained(broker.port, "kiosk/v1/s1/holidays"))
    assert doc["years"]["2027"] == {"holidays": ["2027-01-01", "2027-02-10"],
                                    "workdays": ["2027-02-06"]}
    expect(page.locator("[data-site=s1] tr[data-kind=holidays] .latest")).to_have_text(
        "20261202.1")
