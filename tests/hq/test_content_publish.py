"""Content publishing end to end: the editor publishes in chromium, a real counter
(kiosk-sync's Syncer) takes the retained document from a real Mosquitto and answers, the
collector records the answer, and /content/ shows the version each window applied."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.hq.console import Console, login, screenshot
from tests.sync.conftest import Mosquitto, Running, device_config, until

pytestmark = pytest.mark.broker
NOW = "2026-12-02T10:00:00+08:00"


def _setup(console: Console, broker: Mosquitto) -> None:
    from hq.fleet.models import Officer, Station, Window

    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": NOW})
    db = console.alias
    Station.objects.using(db).get_or_create(site="s1", defaults={"name": "城关派出所"})
    Window.objects.using(db).get_or_create(site="s1", device="w01",
                                           defaults={"name": "1号窗口"})
    b = Officer.objects.using(db).create(badge="000002", name="王芳", site="s1")
    Officer.objects.using(db).create(badge="000001", name="李明", site="s1", phone="0931-1234567",
                                     role="window", backup=b)


def test_editor_publishes_the_roster_and_sees_the_counter_apply_it(
        console: Console, broker: Mosquitto, hq_factory: Any, running: list[Running],
        tmp_path: Path, browser_page: Any) -> None:
    from hq.publish.models import ContentVersion

    _setup(console, broker)
    hq_factory(broker.port, db=Path(console.db_url))
    counter = device_config(tmp_path, broker.port, site="s1", device="w01")
    running.append(Running(counter))
    password = console.add_user("editor1", "editor")
    page = browser_page
    login(page, console, "editor1", password)
    page.goto(console.url + "/content/")
    page.click("[data-site=s1] tr[data-kind=roster] button")
    page.wait_for_selector("text=城关派出所 的民警名册已发布，版本 20261202.1")
    row = ContentVersion.objects.using(console.alias).get(site="s1", kind="roster")
    doc = json.loads(row.document)
    assert row.version == "20261202.1" and row.published_by == "editor1"
    assert doc["officers"][0] == {"badge": "000001", "name": "李明",
                                  "role": "窗口民警（B岗：王芳 000002）",
                                  "phone": "0931-1234567"}

    def shown() -> bool:
        page.goto(console.url + "/content/")
        cell = page.inner_text("[data-site=s1] tr[data-kind=roster] .counters")
        return "1号窗口：20261202.1" in cell

    assert until(shown, timeout=30), page.inner_text("main")
    # The counter itself stored that version (not only HQ's record of its answer).
    with sqlite3.connect(counter.db_path) as conn:
        assert conn.execute("SELECT version FROM site_content WHERE kind='roster'"
                            ).fetchone() == ("20261202.1",)
    screenshot(page, "content")


def test_a_catalogue_the_counters_would_refuse_is_not_published(
        console: Console, broker: Mosquitto, browser_page: Any) -> None:
    from hq.fleet.models import Service, Station
    from hq.publish.models import ContentVersion

    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": NOW})
    Station.objects.using(console.alias).get_or_create(site="s1",
                                                       defaults={"name": "城关派出所"})
    Service.objects.using(console.alias).create(code="id_card.first", name="首次申领居民身份证",
                                                materials="")
    password = console.add_user("editor2", "editor")
    login(browser_page, console, "editor2", password)
    browser_page.goto(console.url + "/content/")
    browser_page.click("[data-site=s1] tr[data-kind=catalogue] button")
    text = browser_page.inner_text(".messages")
    assert "办事指南未发布" in text and "materials" in text and "管理后台 › 服务事项" in text
    assert not ContentVersion.objects.using(console.alias).filter(kind="catalogue").exists()


@pytest.mark.parametrize("role, station", [("supervisor", None), ("chief", "s1")])
def test_a_supervisor_or_chief_cannot_publish(console: Console, broker: Mosquitto,
                                              browser_page: Any, role: str,
                                              station: str | None) -> None:
    from hq.fleet.models import Station
    from hq.publish.models import ContentVersion

    Station.objects.using(console.alias).get_or_create(site="s1",
                                                       defaults={"name": "城关派出所"})
    before = ContentVersion.objects.using(console.alias).count()
    password = console.add_user(f"{role}9", role, station=station)
    login(browser_page, console, f"{role}9", password)
    browser_page.goto(console.url + "/content/")
    with browser_page.expect_response(lambda r: "/publish" in r.url) as answer:
        browser_page.click("[data-site=s1] tr[data-kind=notices] button")
    assert answer.value.status == 403
    assert ContentVersion.objects.using(console.alias).count() == before
