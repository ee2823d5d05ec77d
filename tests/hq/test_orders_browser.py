"""The 差评 loop in chromium: a real counter's 非常不满意 with two reasons and a callback
phone travels over a real Mosquitto to a real collector writing the console's database;
the supervisor finds the order from the landing page by links and takes it to 办结. A
deadline passed across a holiday and a make-up workday shows as overdue (clock
injected); a chief cannot open another station's order by URL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from playwright.sync_api import expect

from device.core import Core
from device.store import Store
from tests.hq.console import Console, login, screenshot
from tests.hq.orders_support import PHONE, REASONS, very_unsatisfied_case
from tests.sync.conftest import Hq, Mosquitto, until


def _names(console: Console) -> None:
    from hq.fleet.models import Officer, Service, Station, Window

    a = console.alias
    Station.objects.using(a).get_or_create(site="demo-site", defaults={
        "name": "城关派出所", "district": "城关区"})
    Window.objects.using(a).get_or_create(site="demo-site", device="demo-w01",
                                          defaults={"name": "1号窗口"})
    Officer.objects.using(a).get_or_create(badge="000001", defaults={"name": "李明"})
    Service.objects.using(a).get_or_create(code="walk_in", defaults={"name": "现场咨询"})


def _publish(port: int, journal: list[tuple[dict[str, Any], bool]]) -> None:
    """As kiosk-sync sends a batch: one QoS 1 message on the counter's events topic."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="demo-site.demo-w01")
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish("kiosk/v1/demo-site/demo-w01/events",
                       json.dumps([ev for ev, _r in journal], ensure_ascii=False),
                       qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


def _step(page: Any, note: str, select: tuple[str, str] | None = None) -> None:
    if select:
        page.select_option(select[0], label=select[1])
    page.fill("textarea[name=note]", note)
    page.click("form button.primary")


def test_a_very_unsatisfied_rating_is_handled_to_its_end(
        console: Console, broker: Mosquitto, hq_factory: Callable[..., Hq], core: Core,
        store: Store, browser_page: Any) -> None:
    from hq.workorders.models import WorkOrder

    _names(console)
    hq_factory(broker.port, db=Path(console.db_url))
    case_no, journal = very_unsatisfied_case(core, store)
    _publish(broker.port, journal)
    orders = WorkOrder.objects.using(console.alias)
    assert until(lambda: orders.filter(case_no=case_no).exists(), 30)
    page = browser_page
    login(page, console, "zhao", console.add_user("zhao", "supervisor"))
    page.click(".sections a.card:has-text('差评工单')")  # by links from the landing page
    row = page.locator("table.list tbody tr", has_text=case_no)
    expect(row).to_contain_text("城关派出所 · 1号窗口")
    expect(row).to_contain_text("李明 000001")
    expect(row).to_contain_text("非常不满意")
    expect(row).to_contain_text("、".join(REASONS))
    expect(row).to_contain_text("138****5678")  # masked in the list
    assert PHONE not in page.content()
    screenshot(page, "orders-list")
    row.locator("a").click()
    expect(page.locator("h1")).to_contain_text("待回访")
    expect(page.locator(".phone")).to_have_text(PHONE)  # in full for who calls back
    screenshot(page, "order-detail")
    _step(page, "已电话回访，群众反映等候过久")
    expect(page.locator(".messages")).to_contain_text("工单现为「已回访（待核实）」")
    _step(page, "调取录像核实属实", ("select[name=finding]", "有效"))
    expect(page.locator("h1")).to_contain_text("整改")
    _step(page, "增开一个窗口，调整午间值班")
    _step(page, "已向群众答复整改情况")
    _step(page, "群众再评价：满意")
    expect(page.locator("h1")).to_contain_text("办结")
    audit = page.locator("table.audit tbody tr")
    expect(audit).to_have_count(6)  # opened + five steps, with who and when
    expect(audit.nth(1)).to_contain_text("zhao")
    expect(audit.nth(2)).to_contain_text("（结论：有效）")
    screenshot(page, "order-closed")
    assert orders.get(case_no=case_no).status == "closed"


def _order(console: Console, pk: str, site: str, opened: datetime) -> None:
    from hq.workorders.models import WorkOrder

    WorkOrder.objects.using(console.alias).update_or_create(pk=pk, defaults=dict(
        site=site, device="w01", officer="000001", case_no=pk, service="walk_in",
        level="unsatisfied", event_ts=opened.isoformat(), created_at=opened.isoformat(),
        state="visit", state_since=opened))


def test_a_deadline_across_national_day_and_its_make_up_saturday(
        console: Console, browser_page: Any) -> None:
    _names(console)
    # Opened 2026-09-30 (before the holiday): the visit is due at the end of 10-08.
    _order(console, "HOLIDAY-1", "demo-site", datetime(2026, 9, 30, 2, 0, tzinfo=UTC))
    # Opened Friday 10-09: due Saturday 10-10, a make-up workday (not Monday 10-12).
    _order(console, "MAKEUP-1", "demo-site", datetime(2026, 10, 9, 2, 0, tzinfo=UTC))
    password = console.add_user("sun", "supervisor")
    page = browser_page
    try:
        console.restart({"KIOSK_HQ_NOW": "2026-10-08T20:00:00+08:00"})
        login(page, console, "sun", password)
        page.goto(console.url + "/orders/?state=all")
        holiday = page.locator("tr", has_text="HOLIDAY-1")
        expect(holiday).to_contain_text("10月8日 23:59")
        expect(holiday).not_to_contain_text("逾期")
        console.restart({"KIOSK_HQ_NOW": "2026-10-11T09:00:00+08:00"})  # the session lasts
        page.goto(console.url + "/orders/?overdue=1")
        expect(page.locator("tr.overdue", has_text="HOLIDAY-1")).to_contain_text("逾期")
        makeup = page.locator("tr.overdue", has_text="MAKEUP-1")
        expect(makeup).to_contain_text("10月10日 23:59")
        screenshot(page, "orders-overdue")
        page.locator("a", has_text="MAKEUP-1").click()
        # The console's timer escalated it when it started: on the order and its log.
        expect(page.locator("td.overdue")).to_contain_text("已上报市局督察")
        expect(page.locator("table.audit")).to_contain_text("逾期上报")
    finally:
        console.restart({})


def test_a_chief_cannot_open_another_stations_order(console: Console,
                                                    browser_page: Any) -> None:
    _order(console, "OTHER-1", "demo-site", datetime(2026, 11, 2, 2, 0, tzinfo=UTC))
    page = browser_page
    login(page, console, "li", console.add_user("li", "chief", station="s9"))
    page.goto(console.url + "/orders/?state=all")
    expect(page.locator("table.list")).not_to_contain_text("OTHER-1")
    reply = page.goto(console.url + "/orders/OTHER-1/")
    assert reply is not None and reply.status == 404
    expect(page.locator("h1")).to_have_text("没有这个页面")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    post = page.request.post(console.url + "/orders/OTHER-1/", form={
        "action": "visit", "note": "x"}, headers={"X-CSRFToken": token,
                                                   "Referer": console.url + "/"})
    assert post.status == 404
    assert page.goto(console.url + "/orders/?site=demo-site").status == 404
