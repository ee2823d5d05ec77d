"""An officer's panel PIN from HQ to the counter: the editor types it in the admin, HQ
keeps only its hash, the roster carries the hash through a real Mosquitto and kiosk-sync,
and the counter's officer panel checks the PIN against it (device/roster.py)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from device.store import Store
from tests.hq.console import Console, login
from tests.sync.conftest import Mosquitto, Running, device_config, until

pytestmark = pytest.mark.broker
NOW = "2026-12-02T10:00:00+08:00"
PIN = "518204"


def test_a_pin_set_in_the_admin_reaches_the_counter_as_a_hash(
        console: Console, broker: Mosquitto, hq_factory: Any, running: list[Running],
        tmp_path: Path, browser_page: Any) -> None:
    from device.roster import officers
    from hq.fleet.models import Officer, Station, Window
    from hq.publish.models import ContentVersion

    console.restart(env={"KIOSK_HQ_BROKER": "127.0.0.1", "KIOSK_HQ_PORT": str(broker.port),
                         "KIOSK_HQ_NOW": NOW})
    db = console.alias
    Station.objects.using(db).get_or_create(site="s7", defaults={"name": "东岗派出所"})
    Window.objects.using(db).get_or_create(site="s7", device="w01", defaults={"name": "1号窗口"})
    Officer.objects.using(db).create(badge="000071", name="赵强", site="s7")
    hq_factory(broker.port, db=Path(console.db_url))
    counter = device_config(tmp_path, broker.port, site="s7", device="w01")
    running.append(Running(counter))
    page = browser_page
    login(page, console, "editor7", console.add_user("editor7", "editor"))

    page.goto(console.url + "/admin/fleet/officer/000071/change/")
    page.fill("input[name=pin]", "12ab")
    page.click("input[name=_save]")
    # expect waits for the answer's page: read at once, body was the empty page between.
    expect(page.locator("body")).to_contain_text("PIN为4至12位数字")  # refused, nothing stored
    assert Officer.objects.using(db).get(badge="000071").pin_hash == ""
    page.fill("input[name=pin]", PIN)
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/fleet/officer/")
    assert "赵强" in page.inner_text("#result_list")
    stored = Officer.objects.using(db).get(badge="000071").pin_hash
    assert stored.startswith("pbkdf2_sha256$") and PIN not in stored

    page.goto(console.url + "/content/")
    page.click("[data-site=s7] tr[data-kind=roster] button")
    page.wait_for_selector("text=东岗派出所 的民警名册已发布")
    doc = ContentVersion.objects.using(db).get(site="s7", kind="roster").document
    assert json.loads(doc)["officers"][0]["pin_hash"] == stored and PIN not in doc

    def applied() -> bool:
        with sqlite3.connect(counter.db_path) as conn:
            return conn.execute("SELECT count(*) FROM site_content WHERE kind='roster'"
                                ).fetchone() == (1,)
    assert until(applied, timeout=30)
    store = Store(counter.db_path, site="s7", device="w01")
    try:
        roster = officers(counter, store)
    finally:
        store.close()
    pin = roster["000071"].pin
    assert pin is not None and pin.matches(PIN) and not pin.matches("518205")
