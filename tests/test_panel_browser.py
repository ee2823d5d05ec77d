"""The officer panel in Debian's chromium (issue 13): a whole case with a notice and a
receipt printed, a wrong PIN throttled, a request without the CSRF token refused, and a
second officer kept out while one is signed in.

A real headless kiosk in this process (KioskApp: store on disk, simulated peripherals,
control socket) serves the panel on 127.0.0.1; the citizen's 确认 comes through the
control socket as `kiosk sim confirm` sends it; what printed is read back from the
simulated printer's bytes and decoded.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from device import pins
from device.config import Config, PanelSection
from drivers.panel import OfficerPanel
from drivers.printer import PrinterDriver
from drivers.printer.decode import decode_text
from kiosk.app import KioskApp
from kiosk.control import ControlClient
from tests.browser import new_page, screenshot
from tests.conftest import FakeClock

PIN = {"000001": "246810", "000002": "135790"}


@dataclass
class Bench:
    app: KioskApp
    clock: FakeClock
    url: str

    @property
    def core(self) -> Any:
        return self.app.core

    def events(self, kind: str) -> list[dict[str, Any]]:
        rows = self.core.store.query("SELECT body FROM events WHERE type = ? ORDER BY seq",
                                     (kind,))
        return [json.loads(body)["data"] for (body,) in rows]

    def printed(self) -> list[bytes]:
        printer = next(d for d in self.app.counter.drivers if isinstance(d, PrinterDriver))
        return list(printer.transport.device.jobs)  # type: ignore[attr-defined]

    def confirm_and_wait_printed(self, kind: str) -> str:
        """The citizen taps 确认并打印; returns the text of the ``kind`` job printed (the
        printer works in order, so it is the last one)."""
        done = threading.Event()

        def watch(_change: Any) -> None:
            if self._printed_count(kind):
                done.set()
        self.core.subscribe(watch)
        try:
            with ControlClient(self.app.config.control_socket) as client:
                reply = client.request({"cmd": "confirm"})
            assert reply["ok"], reply
            assert done.wait(15), "the document did not print within 15 s"
        finally:
            self.core.unsubscribe(watch)
        return decode_text(self.printed()[-1])

    def _printed_count(self, kind: str) -> int:
        return self.core.store.query("SELECT count(*) FROM print_jobs WHERE kind = ? AND "
                                     "printed_ts IS NOT NULL", (kind,))[0][0]


@pytest.fixture
def bench(tmp_path) -> Iterator[Bench]:
    cfg = Config().with_state_dir(tmp_path / "state").simulated()
    cfg = dataclasses.replace(
        cfg, roster=tuple(dataclasses.replace(
            o, pin_hash=pins.make(PIN[o.badge], iterations=pins.MIN_ITERATIONS))
            for o in cfg.roster),
        panel=PanelSection(enabled=True, listen="127.0.0.1:0", max_failures=3, lockout_s=300))
    clock = FakeClock()
    app = KioskApp(cfg, headless=True, clock=clock)
    app.setup()
    try:
        assert app.counter is not None
        panel = next(d for d in app.counter.drivers if isinstance(d, OfficerPanel))
        assert panel.wait_started(), "the panel did not start"
        host, port = panel.address
        yield Bench(app, clock, f"http://{host}:{port}")
    finally:
        app.close()


@pytest.fixture
def desk_pc(_chromium: Any) -> Iterator[Any]:
    pages: list[Any] = []

    def open_page() -> Any:
        pages.append(new_page(_chromium))
        return pages[-1]
    yield open_page
    for p in pages:
        p.context.close()


def sign_in(page: Any, bench: Bench, badge: str, pin: str) -> None:
    page.goto(bench.url + "/")
    page.fill("input[name=badge]", badge)
    page.fill("input[name=pin]", pin)
    submit(page, page.locator("button:has-text('登录')"))


def submit(page: Any, button: Any) -> None:
    """Click a form's button and wait for the page the redirect leads to."""
    with page.expect_navigation():
        button.click()


def flash(page: Any) -> str:
    return " ".join(page.locator(".flash").all_inner_texts())


def test_a_whole_case_with_a_notice_and_a_receipt_printed(bench, desk_pc):
    ticket = bench.app.counter.desk.issue_ticket("hukou.move_in")
    page = desk_pc()
    sign_in(page, bench, "000002", PIN["000002"])
    assert page.inner_text("#officer") == "王芳（000002）"
    assert bench.core.state.officer == "000002"
    assert bench.events("officer.signed_in")[-1] == {"officer": "000002"}

    submit(page, page.locator("button:has-text('叫下一位')"))
    assert f"已叫号 {ticket.number}" in flash(page)
    assert page.inner_text("#mode") == "正在办理"
    case_no = bench.core.state.case_no
    assert page.inner_text("#case-no") == case_no

    # 一次性告知: two of the service's materials ticked, with a remark.
    notice = page.locator("form[data-op=notice]")
    notice.locator("input[name=material][value='2']").check()
    notice.locator("input[name=material][value='4']").check()
    notice.locator("input[name=remarks]").fill("复印件请加盖单位公章")
    submit(page, notice.locator("button"))
    assert "补正材料告知书已显示在群众屏幕上" in flash(page)
    screenshot(page, "PANEL_SCREENS", "panel-case")
    assert "等待群众确认后打印" in page.inner_text("#document-wait")
    assert bench.core.store.query("SELECT count(*) FROM print_jobs WHERE kind = 'notice'"
                                  ) == [(0,)]  # nothing is even queued before the 确认
    text = bench.confirm_and_wait_printed("notice")
    assert "补正材料告知书" in text and case_no in text
    assert "本人居民身份证（原件）" in text and "复印件请加盖单位公章" in text
    assert "劳动合同" in text  # material 4, wrapped on the slip but all there
    assert "迁入证明" not in text  # material 1 was not ticked

    # 受理回执: the promised date the page shows (5 working days) is the one printed.
    page.reload()
    assert page.inner_text("#promised") == "2026年12月3日"
    receipt = page.locator("form[data-op=receipt]")
    receipt.locator("input[name=pickup]").fill("本窗口领取")
    submit(page, receipt.locator("button"))
    assert "受理回执已显示在群众屏幕上" in flash(page)
    text = bench.confirm_and_wait_printed("receipt")
    assert "受理回执" in text and "2026年12月3日" in text and "本窗口领取" in text
    page.reload()  # what the page's own poll would do now that the 确认 is in

    submit(page, page.locator("button:has-text('结束办理')"))
    assert "已结束办理，请群众评价" in flash(page)
    assert page.inner_text("#mode") == "等待群众评价"
    issued = bench.events("document.issued")
    assert [d["kind"] for d in issued] == ["notice", "receipt"]
    assert issued[0]["materials"] == ["本人居民身份证（原件）",
                                      "与迁入事由相符的证明（如结婚证、劳动合同、房产证）"]
    assert issued[1]["promised_date"] == "2026-12-03" and issued[1]["officer"] == "000002"
    assert [d["case_no"] for d in bench.events("case.ended")] == [case_no]


def test_a_wrong_pin_is_throttled_even_for_the_right_pin_after(bench, desk_pc):
    page = desk_pc()
    for _ in range(3):  # panel.max_failures
        sign_in(page, bench, "000001", "000000")
        assert "警号或PIN不正确" in page.inner_text("#error")
    sign_in(page, bench, "000001", PIN["000001"])
    assert "PIN错误次数过多" in page.inner_text("#error")
    assert "5分钟" in page.inner_text("#error")
    screenshot(page, "PANEL_SCREENS", "panel-login-locked")
    assert bench.events("officer.signed_in") == []
    # Another badge from the same PC is locked out too (the PC is counted, not only
    # the badge), so nobody guesses through the list of badges.
    sign_in(page, bench, "000002", PIN["000002"])
    assert "PIN错误次数过多" in page.inner_text("#error")
    bench.clock.advance(301)
    sign_in(page, bench, "000001", PIN["000001"])
    assert page.inner_text("#officer") == "李明（000001）"


def test_a_request_without_the_csrf_token_is_refused_and_changes_nothing(bench, desk_pc):
    bench.app.counter.desk.issue_ticket("hukou.move_in")
    page = desk_pc()
    sign_in(page, bench, "000001", PIN["000001"])
    seq = bench.core.store.head()[0]
    # The same cookies as the signed-in page; only the token is missing or wrong.
    for form in ({"op": "call_next"}, {"op": "call_next", "csrf": "x" * 43}):
        r = page.request.post(bench.url + "/act", form=form, max_redirects=0)
        assert r.status == 403
        assert "安全令牌（CSRF）" in r.text()
    # A form posted from another site's page is refused by its Origin as well.
    token = page.locator("form[data-op=call_next] input[name=csrf]").get_attribute("value")
    r = page.request.post(bench.url + "/act", form={"op": "call_next", "csrf": token},
                          headers={"Origin": "http://evil.example"}, max_redirects=0)
    assert r.status == 403 and "其他网站" in r.text()
    assert bench.core.store.head()[0] == seq and bench.core.state.ticket == ""
    # With the token the same request is taken.
    r = page.request.post(bench.url + "/act", form={"op": "call_next", "csrf": token},
                          max_redirects=0)
    assert r.status == 303 and bench.core.state.ticket == "A001"


def test_a_second_officer_cannot_act_while_one_is_signed_in(bench, desk_pc):
    first, second = desk_pc(), desk_pc()
    sign_in(first, bench, "000001", PIN["000001"])
    assert first.inner_text("#officer") == "李明（000001）"
    sign_in(second, bench, "000002", PIN["000002"])
    assert "李明（000001）正在本窗口使用操作台" in second.inner_text("#error")
    # Without a session of its own, the second PC's forms are not taken.
    r = second.request.post(bench.url + "/act", form={"op": "away", "reason": "就餐",
                                                      "return_at": "12:00", "csrf": "x"},
                            max_redirects=0)
    assert r.status == 401 and "请先登录" in r.text()
    assert bench.core.state.officer == "000001" and bench.core.state.away is None
    # The first signs out; now the second may sign in.
    submit(first, first.locator("button:has-text('退出登录')"))
    assert first.locator("input[name=pin]").is_visible()
    sign_in(second, bench, "000002", PIN["000002"])
    assert second.inner_text("#officer") == "王芳（000002）"
    # 000001 was on duty from the start (staff.on_duty): only the change is an event.
    assert [d["officer"] for d in bench.events("officer.signed_in")] == ["000002"]


def test_an_idle_session_ends_and_the_page_asks_to_sign_in_again(bench, desk_pc):
    page = desk_pc()
    sign_in(page, bench, "000001", PIN["000001"])
    bench.clock.advance(31 * 60)  # panel.idle_minutes = 30
    page.goto(bench.url + "/")
    assert page.locator("input[name=pin]").is_visible()
    sign_in(page, bench, "000002", PIN["000002"])  # the desk is free again
    assert page.inner_text("#officer") == "王芳（000002）"


def test_an_intake_and_a_home_visit_from_the_panel(bench, desk_pc):
    page = desk_pc()
    sign_in(page, bench, "000001", PIN["000001"])
    start = page.locator("form[data-op=case_start]")
    start.locator("input[name=case_no]").fill("DB-20261126-01")
    start.locator("select[name=service]").select_option("hukou.move_in")
    submit(page, start.locator("button"))
    intake = page.locator("form[data-op=intake]")
    intake.locator("input[name=material][value='1']").check()
    intake.locator("input[name=material][value='2']").check()
    submit(page, intake.locator("button"))
    assert "转下一工作日办理" in flash(page)
    text = bench.confirm_and_wait_printed("intake")
    assert "DB-20261126-01" in text and "本人居民身份证（原件）" in text
    [queued] = bench.events("intake.queued")
    assert queued["handover_date"] == "2026-11-27" and queued["number"] == "DB001"

    page.reload()
    visit = page.locator("form[data-op=home_visit]")
    visit.locator("input[name=date]").fill("2026-11-30")
    visit.locator("input[name=slot_from]").fill("09:00")
    visit.locator("input[name=slot_to]").fill("10:30")
    visit.locator("input[name=need][value=disabled]").check()
    submit(page, visit.locator("button"))
    assert "上门服务预约单已显示" in flash(page)
    bench.confirm_and_wait_printed("home_visit")
    issued = bench.events("document.issued")[-1]
    assert (issued["kind"], issued["visit_date"], issued["slot"], issued["need"]) == (
        "home_visit", "2026-11-30", "09:00-10:30", "disabled")


def test_a_session_ends_when_another_officer_signs_in_at_the_workstation(bench, desk_pc):
    page = desk_pc()
    sign_in(page, bench, "000002", PIN["000002"])
    with ControlClient(bench.app.config.control_socket) as client:
        reply = client.request({"cmd": "link", "line": json.dumps(
            {"op": "sign_in", "badge": "000001"})})
    assert reply["reply"]["ok"]
    token = page.locator("form[data-op=call_next] input[name=csrf]").get_attribute("value")
    r = page.request.post(bench.url + "/act", form={"op": "away", "reason": "就餐",
                                                    "return_at": "12:00", "csrf": token},
                          max_redirects=0)
    assert r.status == 401 and bench.core.state.away is None
    page.goto(bench.url + "/")
    assert page.locator("input[name=pin]").is_visible()
