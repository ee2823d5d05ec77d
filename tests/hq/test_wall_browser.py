"""The live wall in chromium: a window goes away and comes back, seen in place (no reload)
within 2 s of its MQTT state message; a chief sees only their station, on the page and on
/live/data. Real Mosquitto, a real collector writing the console's database, a real
`kiosk-hq serve`."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from playwright.sync_api import expect

from tests.hq.console import Console, login, screenshot
from tests.sync.conftest import Hq, Mosquitto, until

LATENCY_MS = 2000  # the bound: MQTT message -> visible in an open browser


@pytest.fixture
def wall_hq(console: Console, broker: Mosquitto, hq_factory: Callable[..., Hq]) -> Iterator[Hq]:
    from hq.fleet.models import Officer, Station, Window  # after the console set Django up

    a = console.alias
    Station.objects.using(a).get_or_create(site="s1", defaults={"name": "城关派出所",
                                                                "district": "城关区"})
    Station.objects.using(a).get_or_create(site="s2", defaults={"name": "七里河派出所",
                                                                "district": "七里河区"})
    Window.objects.using(a).get_or_create(site="s1", device="w01", defaults={"name": "1号窗口"})
    Window.objects.using(a).get_or_create(site="s2", device="w01", defaults={"name": "5号窗口"})
    Officer.objects.using(a).get_or_create(badge="000001", defaults={"name": "李明"})
    yield hq_factory(broker.port, db=Path(console.db_url))


class Counter:
    """Publishes a counter's retained state the way kiosk-sync does (sync/health.py)."""

    def __init__(self, port: int, site: str, device: str) -> None:
        self.topic = f"kiosk/v1/{site}/{device}/state"
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"t-{site}-{device}")
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def state(self, mode: str, away: dict[str, str] | None = None) -> None:
        doc: dict[str, Any] = {"online": True, "ts": "2026-12-02T06:00:00Z", "mode": mode,
                               "officer": "000001", "away": away, "software": "test"}
        self.client.publish(self.topic, json.dumps(doc, ensure_ascii=False), qos=1,
                            retain=True).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _tile(page: Any, site: str, device: str) -> Any:
    return page.locator(f'.tile[data-key="{site}/{device}"]')


def test_a_window_goes_away_and_comes_back_without_a_reload(
        console: Console, browser_page: Any, wall_hq: Hq, broker: Mosquitto) -> None:
    c1, c2 = Counter(broker.port, "s1", "w01"), Counter(broker.port, "s2", "w01")
    try:
        c1.state("idle")
        c2.state("serving")
        assert until(lambda: wall_hq.collector.stats.statuses >= 2)
        page = browser_page
        login(page, console, "wall-sup", console.add_user("wall-sup", "supervisor"))
        page.goto(console.url + "/live/")
        page.evaluate("window.__loaded = performance.timeOrigin")
        tile = _tile(page, "s1", "w01")
        expect(tile).to_contain_text("1号窗口")
        expect(tile).to_contain_text("李明 000001")
        expect(tile).to_contain_text("空闲")
        expect(page.locator("section.station", has_text="七里河派出所")).to_contain_text("办理中")

        c1.state("away", {"reason": "临时外出取件", "return_at": "2099-01-01T10:30:00+08:00",
                          "backup": "", "since": "2026-12-02T13:50:00+08:00"})
        expect(tile).to_contain_text("暂离", timeout=LATENCY_MS)
        expect(tile).to_contain_text("临时外出取件")
        expect(tile).to_contain_text("01-01 10:30 返回")
        expect(tile).not_to_contain_text("逾期")

        c1.state("serving")
        expect(tile).to_contain_text("办理中", timeout=LATENCY_MS)
        expect(tile).not_to_contain_text("临时外出取件")
        # The same document all along: the changes came in place.
        assert page.evaluate("window.__loaded") is not None
        screenshot(page, "wall")

        # The filters: a district, a station, on the page and on /live/data.
        page.select_option("#district", "七里河区")
        page.click("form.inline button[type=submit]")
        expect(_tile(page, "s2", "w01")).to_contain_text("5号窗口")
        assert _tile(page, "s1", "w01").count() == 0
        data = page.request.get(console.url + "/live/data?station=s1").json()
        assert {t["key"] for t in data["tiles"]} == {"s1/w01"}
    finally:
        c1.close()
        c2.close()


def test_an_overdue_return_is_highlighted(console: Console, browser_page: Any, wall_hq: Hq,
                                          broker: Mosquitto) -> None:
    c = Counter(broker.port, "s1", "w01")
    try:
        c.state("away", {"reason": "午休", "return_at": "2020-01-01T13:00:00+08:00",
                         "backup": "", "since": "2020-01-01T12:00:00+08:00"})
        assert until(lambda: wall_hq.collector.stats.statuses >= 1)
        page = browser_page
        login(page, console, "wall-sup2", console.add_user("wall-sup2", "supervisor"))
        page.goto(console.url + "/live/")
        tile = _tile(page, "s1", "w01")
        expect(tile).to_contain_text("逾期未归", timeout=LATENCY_MS)
        expect(tile).to_have_class("tile away overdue")
    finally:
        c.close()


def test_a_chief_sees_only_their_station(console: Console, browser_page: Any, wall_hq: Hq,
                                         broker: Mosquitto) -> None:
    c1, c2 = Counter(broker.port, "s1", "w01"), Counter(broker.port, "s2", "w01")
    try:
        c1.state("idle")
        c2.state("idle")
        assert until(lambda: wall_hq.collector.stats.statuses >= 2)
        page = browser_page
        login(page, console, "wall-chief", console.add_user("wall-chief", "chief", station="s1"))
        page.goto(console.url + "/live/")
        expect(_tile(page, "s1", "w01")).to_contain_text("1号窗口")
        assert _tile(page, "s2", "w01").count() == 0
        assert "七里河派出所" not in page.content()
        data = page.request.get(console.url + "/live/data?station=s2").json()
        assert data["full"] is True
        assert {t["key"] for t in data["tiles"]} == set()
        data = page.request.get(console.url + "/live/data").json()
        assert {t["key"] for t in data["tiles"]} == {"s1/w01"}
        # A change at the other station never reaches the chief's page either.
        c2.state("away", {"reason": "七里河的暂离", "return_at": "", "backup": "", "since": ""})
        c1.state("away", {"reason": "城关的暂离", "return_at": "", "backup": "", "since": ""})
        expect(_tile(page, "s1", "w01")).to_contain_text("城关的暂离", timeout=LATENCY_MS)
        assert "七里河的暂离" not in page.content()
    finally:
        c1.close()
        c2.close()
